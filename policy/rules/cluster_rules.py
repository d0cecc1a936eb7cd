"""Rules on the cluster and its credentials: the kubeconfig is the program's and secret; RBAC and a managed identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Secret

from policy.rules.model import get, is_secret, is_unknown, reveal, same, text
from policy.rules.pools import clusters
from policy.rules.resource_types import K8S_PROVIDER


def kubeconfig_source_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """What can be checked without seeing secrecy (see `kubeconfig_secrecy_problem`).

    A provider with no kubeconfig, or a file path, reads whatever cluster the
    machine running Pulumi points at instead of the cluster this stack built.
    """
    if resource_type != K8S_PROVIDER:
        return []
    value = reveal(props.get("kubeconfig"))
    if is_unknown(value):
        return []
    if not isinstance(value, str) or not value.strip():
        return [
            "The Kubernetes provider has no kubeconfig, so it falls back to the KUBECONFIG or "
            "~/.kube/config of the machine running Pulumi. Pass the cluster's kubeconfig from the "
            "program (as a secret Output)."
        ]
    if "\n" not in value and not value.lstrip().startswith("{"):
        return [
            f"The Kubernetes provider's kubeconfig is a file path ({value!r}), so it targets "
            "whatever that file points at on the machine running Pulumi. Pass the cluster's "
            "kubeconfig contents from the program (as a secret Output)."
        ]
    return []


def kubeconfig_secrecy_problem(resource_type: str, raw_props: Mapping[str, Any]) -> str | None:
    """Why the provider's kubeconfig is not a secret, or None.

    `raw_props` must still carry the secret markers: the engine sends them to a
    policy pack, but pulumi-policy 1.21 strips them before a *validation* sees the
    inputs and keeps them only for a *remediation* (as `pulumi_policy.Secret`).
    """
    if resource_type != K8S_PROVIDER or "kubeconfig" not in raw_props:
        return None
    if is_secret(raw_props["kubeconfig"]):
        return None
    return (
        "The Kubernetes provider's kubeconfig is not a Pulumi secret, so its cluster credentials "
        "would be stored in plain text in the state. Wrap it with pulumi.Output.secret()."
    )


def remediate_kubeconfig_secret(resource_type: str, raw_props: Mapping[str, Any]) -> dict | None:
    """The provider's inputs with the kubeconfig marked secret, or None if it already is."""
    if kubeconfig_secrecy_problem(resource_type, raw_props) is None:
        return None
    return {**raw_props, "kubeconfig": Secret(raw_props["kubeconfig"])}


def cluster_identity_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Resource rule: each AKS cluster the resource declares (typed, generic ARM or in a template) enables
    Kubernetes RBAC and runs as a managed identity."""
    messages = []
    for cluster in clusters(resource_type, props):
        the = f"The cluster '{cluster.name}'" if cluster.name else "The cluster"
        messages += [f"{the} {problem}" for problem in _identity_problems(cluster.fields)]
    return messages


def _identity_problems(fields: Mapping[str, Any]) -> list[str]:
    problems = []
    rbac = reveal(fields.get("enableRBAC"))
    if not is_unknown(rbac) and rbac is not True:
        setting = "does not set enableRBAC" if rbac is None else f"sets enableRBAC: {rbac!r}"
        problems.append(f"{setting}. Without Kubernetes RBAC every credential is cluster-admin; set enableRBAC: true.")
    identity_type = get(fields, "identity", "type")
    if not is_unknown(identity_type) and not (
        same(text(identity_type), "SystemAssigned") or same(text(identity_type), "UserAssigned")
    ):
        has = "has no identity" if identity_type is None else f"has identity type {identity_type!r}"
        problems.append(
            f"{has}. Use a managed identity (identity.type SystemAssigned or "
            "UserAssigned) so no service principal secret exists to leak or expire."
        )
    client_id = get(fields, "servicePrincipalProfile", "clientId")
    if client_id is not None and not is_unknown(client_id) and not same(text(client_id), "msi"):
        problems.append(
            "sets servicePrincipalProfile with a client ID and secret. Remove it and use the managed identity."
        )
    return problems
