"""Microsoft Entra ID on AKS: the well-known IDs, roles and kubelogin login modes.

Sources: AKS "Use Microsoft Entra ID" and "Use Azure RBAC for Kubernetes
Authorization" docs; Azure/kubelogin `pkg/internal/converter` and
`pkg/internal/token` (the login modes and their flags).
"""

from __future__ import annotations

# The application ID of the AKS Microsoft Entra server, the audience of every
# token for an AKS-managed Entra ID cluster (kubelogin's --server-id).
AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"

# Built-in role "Azure Kubernetes Service RBAC Cluster Admin": every Kubernetes
# action on every namespace, through Azure RBAC for Kubernetes authorization.
AKS_RBAC_CLUSTER_ADMIN_ROLE_ID = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

# AKS documents up to five minutes before a new role assignment reaches the
# cluster's authorizer; Azure RBAC's troubleshooting guide allows up to ten for
# role assignment changes in general. The stack waits up to the larger figure.
ROLE_PROPAGATION_SECONDS = 600

# Public client applications whose tokens (the `appid` claim, which
# pulumi-azure-native's getClientConfig returns as clientId) mean a person
# signed in: the Azure CLI and Azure PowerShell. Any other client ID is a
# service principal or a managed identity signing in as itself.
USER_SIGN_IN_CLIENT_IDS = frozenset(
    {
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",  # Azure CLI
        "1950a258-227b-4e31-a9cf-717495945fc2",  # Azure PowerShell
    }
)

KUBELOGIN = "kubelogin"
KUBELOGIN_EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
# What `kubelogin get-token` does without --login (and what AKS writes).
KUBELOGIN_DEFAULT_LOGIN = "devicecode"

# Login modes that need nobody at the keyboard, with where each fits.
NON_INTERACTIVE_LOGINS = {
    "azurecli": "the Azure CLI's sign-in (az login on a laptop, or after a pipeline's Azure login step)",
    "workloadidentity": "a federated token file (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)",
    "msi": "the managed identity of the machine running Pulumi",
    "spn": "a service principal secret or certificate (AAD_SERVICE_PRINCIPAL_CLIENT_ID/_SECRET)",
    "azd": "the Azure Developer CLI's sign-in (azd auth login)",
    "azurepipelines": "an Azure Pipelines service connection (AzureCLI@2 task with SYSTEM_ACCESSTOKEN)",
}

# Login modes refused, and why.
REFUSED_LOGINS = {
    "devicecode": "it prints a code and waits for a person to enter it in a browser",
    "interactive": "it opens a browser and waits for a person to sign in",
    "ropc": "it signs in with a user's password, which multi-factor authentication refuses and which would "
    "have to be stored for every run",
}

# Words of the prompts that mean a plugin waits for a person (kubelogin's
# device code flow, interactive browser flow, and the Azure CLI's own).
INTERACTIVE_PROMPTS = (
    "devicelogin",
    "enter the code",
    "to sign in, use a web browser",
    "opening in existing browser",
    "open the following url",
)
