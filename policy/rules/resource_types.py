"""Resource type tokens, read the way the engine may spell them.

azure-native publishes every resource in each ARM API version as well as the
default one (`azure-native:containerservice/v20250801:AgentPool`), and
pulumi-kubernetes has one type per API group version (`kubernetes:apps/v1:DaemonSet`,
`...:DaemonSetPatch`). The rules compare canonical forms, so a pinned API
version or a patch resource cannot walk past them.
"""

from __future__ import annotations

import re

AGENT_POOL = "azure-native:containerservice:AgentPool"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
GENERIC_RESOURCE = "azure-native:resources:Resource"
K8S_PROVIDER = "pulumi:providers:kubernetes"

_AZURE_VERSIONED = re.compile(r"(azure-native:[^:/]+)/v[0-9a-z]+(:[^:]+)")
_KUBERNETES = re.compile(r"kubernetes:([^:/]+)/([^:/]+):([A-Za-z0-9]+)")
# The built-in API groups whose workload kinds share the core/v1 pod template.
_WORKLOAD_GROUPS = {"core", "apps", "batch", "extensions"}
_HELM_RELEASE = re.compile(r"kubernetes:helm\.sh/v[0-9]+:Release")
# pulumi-kubernetes' own components (Helm charts and releases, YAML and Kustomize groups) are
# not Kubernetes objects: what they render is registered as resources of its own, and checked there.
_PROVIDER_COMPONENT_GROUPS = frozenset({"helm.sh", "yaml", "kustomize"})


def canonical(resource_type: str) -> str:
    """An azure-native type without its API version; every other type as it is."""
    match = _AZURE_VERSIONED.fullmatch(resource_type)
    return match.group(1) + match.group(2) if match else resource_type


def is_agent_pool(resource_type: str) -> bool:
    """An azure-native AgentPool, in any API version."""
    return canonical(resource_type) == AGENT_POOL


def is_managed_cluster(resource_type: str) -> bool:
    """An azure-native ManagedCluster, in any API version."""
    return canonical(resource_type) == MANAGED_CLUSTER


def is_generic_resource(resource_type: str) -> bool:
    """azure-native's generic ARM resource, in any API version."""
    return canonical(resource_type) == GENERIC_RESOURCE


def kubernetes_kind(resource_type: str) -> str | None:
    """The kind of a built-in Kubernetes type (`DaemonSet` for any apps version or its Patch), else None."""
    match = _KUBERNETES.fullmatch(resource_type)
    if match is None or match.group(1) not in _WORKLOAD_GROUPS:
        return None
    kind = match.group(3)
    return kind.removesuffix("Patch") or None


def kubernetes_object(resource_type: str) -> tuple[str, str] | None:
    """(API group, kind) of any Kubernetes object type, custom resources included; None for anything else.

    `kubernetes:ray.io/v1:RayCluster` -> ("ray.io", "RayCluster"); a `...Patch` type names its kind.
    """
    match = _KUBERNETES.fullmatch(resource_type)
    if match is None or match.group(1) in _PROVIDER_COMPONENT_GROUPS:
        return None
    kind = match.group(3).removesuffix("Patch")
    return (match.group(1), kind) if kind else None


def is_helm_release(resource_type: str) -> bool:
    """A pulumi-kubernetes Helm release (the chart is rendered by the provider, out of the pack's sight)."""
    return _HELM_RELEASE.fullmatch(resource_type) is not None
