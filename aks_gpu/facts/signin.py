"""Known sign-in failures of kubelogin and the Azure CLI: the text that names them, the cause, the next step.

Sources: Microsoft Entra authentication and authorization error codes
(https://learn.microsoft.com/entra/identity-platform/reference-error-codes);
Azure/kubelogin `pkg/internal/token` (azurecli mode runs `az account
get-access-token`, whose error text it passes on); Azure CLI's "Please run 'az
login' to setup account." message (azure-cli-core `_profile.py`); GitHub
Actions OIDC tokens are valid for a few minutes only (GitHub docs "About
security hardening with OpenID Connect"), which is why a long deploy outlives
its federated client assertion.
"""

from __future__ import annotations

# (signature found in the plugin's output, case-insensitive; cause; next step). First match wins.
SIGN_IN_FAILURES: tuple[tuple[str, str, str], ...] = (
    (
        "AADSTS700024",
        "the federated client assertion (the pipeline's OIDC token) expired, typically during a long deploy",
        "re-run the job, request a fresh OIDC token right before verification, or use "
        "`kubelogin convert-kubeconfig -l azurecli` with an Azure login step that refreshes the session",
    ),
    (
        "AADSTS70043",
        "the refresh token expired or was revoked by a Conditional Access sign-in frequency policy",
        "sign in again (`az login`) and fetch fresh cluster credentials",
    ),
    (
        "AADSTS50173",
        "the refresh token was revoked (a password change or a revoked session)",
        "sign in again (`az login`) and fetch fresh cluster credentials",
    ),
    (
        "AADSTS700082",
        "the refresh token expired from inactivity",
        "sign in again (`az login`)",
    ),
    (
        "AADSTS7000215",
        "the service principal's client secret is wrong (a secret ID given instead of its value, or a typo)",
        "set the secret's value, not its ID (AZURE_CLIENT_SECRET / AAD_SERVICE_PRINCIPAL_CLIENT_SECRET)",
    ),
    (
        "AADSTS7000222",
        "the service principal's client secret expired",
        "create a new client secret for the app registration and update the pipeline's secret",
    ),
    (
        "AADSTS70021",
        "no federated identity credential on the app matches the token's issuer, subject and audience",
        "add a federated credential for this repository/branch/environment to the app registration",
    ),
    (
        "AADSTS50076",
        "the tenant requires multi-factor authentication for this sign-in, which nobody can answer here",
        "sign in with a service principal or workload identity (`kubelogin convert-kubeconfig -l spn` or "
        "`-l workloadidentity`), which Conditional Access MFA rules do not prompt",
    ),
    (
        "AADSTS53003",
        "a Conditional Access policy blocked the sign-in (device, location or risk rule)",
        "ask the tenant's administrator which policy applies, or sign in from a compliant device or identity",
    ),
    (
        "AADSTS700016",
        "no application with this client ID exists in the tenant (a wrong client ID or tenant ID)",
        "check AZURE_CLIENT_ID / AZURE_TENANT_ID (or the service connection) against the app registration",
    ),
    (
        "AADSTS90002",
        "the tenant ID is unknown to Microsoft Entra ID",
        "check AZURE_TENANT_ID (or the service connection's tenant)",
    ),
    (
        "please run 'az login'",
        "the Azure CLI has no signed-in account (kubelogin -l azurecli reuses it)",
        "run `az login` (or the pipeline's Azure login step) before the verifier",
    ),
    (
        "az login",
        "the Azure CLI's sign-in is missing or expired (kubelogin -l azurecli reuses it)",
        "run `az login` (or the pipeline's Azure login step) before the verifier",
    ),
    (
        "no cached",
        "kubelogin found no cached token and may not sign in interactively here",
        "convert the kubeconfig to a non-interactive login: `kubelogin convert-kubeconfig -l azurecli`",
    ),
)


def sign_in_failure(output: str) -> tuple[str, str, str] | None:
    """The first (signature, cause, next step) whose signature occurs in `output` (case-insensitive), or None."""
    lowered = output.lower()
    return next((entry for entry in SIGN_IN_FAILURES if entry[0].lower() in lowered), None)
