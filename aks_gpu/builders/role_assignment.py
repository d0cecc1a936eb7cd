"""The deployer's role assignment on a new Entra ID cluster: its name, role and principal type."""

from __future__ import annotations

import uuid

from aks_gpu.facts.entra import AKS_RBAC_CLUSTER_ADMIN_ROLE_ID, USER_SIGN_IN_CLIENT_IDS

# A fixed namespace, so the same scope, principal and role always give the same name.
_NAMESPACE = uuid.UUID("5d7c3c1e-1f0b-4a4e-9d43-0c2f6f1a7b9e")


def role_assignment_name(scope: str, principal_id: str, role_definition_id: str) -> str:
    """A GUID derived from scope, principal and role.

    ARM names role assignments by GUID and refuses a second assignment of one role
    to one principal on one scope; a random name would make a re-created stack
    state (or an import) clash with the assignment already there. IDs are compared
    case-insensitively by ARM, so they are lower-cased first.
    """
    key = "|".join(part.lower() for part in (scope, principal_id, role_definition_id))
    return str(uuid.uuid5(_NAMESPACE, key))


def role_definition_id(subscription_id: str, role_id: str = AKS_RBAC_CLUSTER_ADMIN_ROLE_ID) -> str:
    """The full resource ID of a built-in role definition in the subscription."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


def principal_type(client_id: str | None) -> str:
    """ "User" when the deployer is a person signed in through the Azure CLI or PowerShell, else "ServicePrincipal".

    pulumi-azure-native's RoleAssignment sends "User" when no type is given, and
    ARM refuses an assignment whose type does not match the principal, so a
    pipeline's service principal or managed identity (both "ServicePrincipal")
    must say so. The client ID is the token's `appid`: a public CLI client for a
    person, the identity's own application ID otherwise.
    """
    return "User" if (client_id or "").lower() in USER_SIGN_IN_CLIENT_IDS else "ServicePrincipal"
