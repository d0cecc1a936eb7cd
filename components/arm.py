"""ARM properties of the AKS cluster and its agent pools, built by pure functions.

The properties are in ARM's camelCase shape: the generic ARM resource that
carries the managed GPU pool takes them as they are, the typed AgentPool takes
them through `as_resource_args`, and tests and the policy pack read the same shape.
"""

from __future__ import annotations

import re
from typing import Any

from components import catalog
from components.settings import SYSTEM_POOL_NAME, Settings


def dns_prefix(settings: Settings) -> str:
    """A DNS prefix from the cluster name (AKS allows letters, digits and '-', at most 54)."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "", settings.cluster_name or "aks-gpu")[:54].strip("-")
    return cleaned or "aks-gpu"


def cluster_properties(settings: Settings) -> dict[str, Any]:
    """A new cluster: RBAC on, a system-assigned managed identity, the system pool inline."""
    props: dict[str, Any] = {
        "dnsPrefix": dns_prefix(settings),
        "enableRBAC": True,
        # Managed identity instead of a service principal: no password to store or rotate.
        "identity": {"type": "SystemAssigned"},
        "agentPoolProfiles": [system_pool_profile(settings)],
    }
    if settings.cluster_name:
        props["resourceName"] = settings.cluster_name
    if settings.kubernetes_version:
        props["kubernetesVersion"] = settings.kubernetes_version
    return props


def system_pool_profile(settings: Settings) -> dict[str, Any]:
    """The system pool, declared inline because AKS needs one to create a cluster."""
    return {
        "name": SYSTEM_POOL_NAME,
        "mode": "System",
        "vmSize": settings.system_vm_size,
        "count": settings.system_node_count,
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
    }


def gpu_pool_properties(settings: Settings) -> dict[str, Any]:
    """The GPU pool's agent pool properties (without its name and parent cluster)."""
    props: dict[str, Any] = {
        "mode": "User",
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
        "vmSize": settings.gpu_vm_size,
        # Spot's taint is added by AKS itself; declaring it would make every
        # refresh show a diff, so only the user's taints are sent.
        "nodeTaints": list(settings.gpu_node_taints),
        "nodeLabels": dict(settings.gpu_node_labels),
        # Install is AKS's default; spelled out so nobody has to remember that
        # `None` (for the GPU Operator) would leave the nodes without a driver.
        "gpuProfile": {"driver": "Install"},
    }
    if settings.kubernetes_version and settings.existing_cluster is None:
        props["orchestratorVersion"] = settings.kubernetes_version
    if settings.autoscale:
        props.update(
            enableAutoScaling=True,
            minCount=settings.autoscale.min_count,
            maxCount=settings.autoscale.max_count,
            # The pool starts at its floor (0 is allowed: scale from zero); the autoscaler owns it afterwards.
            count=settings.autoscale.min_count,
        )
    else:
        props.update(enableAutoScaling=False, count=settings.gpu_node_count)
    if settings.spot:
        props.update(
            scaleSetPriority="Spot",
            scaleSetEvictionPolicy="Delete",
            spotMaxPrice=settings.spot_max_price,
        )
    if settings.mig_profile:
        props["gpuInstanceProfile"] = settings.mig_profile
    if settings.managed_gpu:
        props["gpuProfile"] = {"driver": "Install", "nvidia": {"managementMode": "Managed"}}
    return props


# AKS owns these once the pool exists (the autoscaler moves `count`); declaring
# them again on every `pulumi up` would fight it.
AUTOSCALED_IGNORED_PROPERTIES = ("count",)

# Changing these on a live pool is refused by AKS; Pulumi must replace the pool.
REPLACE_ON_CHANGES = ("vmSize", "gpuInstanceProfile", "gpuProfile", "scaleSetPriority", "osType")


# Python keyword arguments that differ from the plain snake_case of the ARM name,
# because `resource_name` is taken by the Pulumi resource name.
_RENAMED_ARGS = {"resourceName": "resource_name_"}


def _snake(name: str) -> str:
    return _RENAMED_ARGS.get(name) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def as_resource_args(props: dict[str, Any]) -> dict[str, Any]:
    """Top-level ARM property names as the Python SDK's keyword arguments (vmSize -> vm_size)."""
    return {_snake(key): value for key, value in props.items()}


def managed_pool_feature_command() -> str:
    return (
        f"az feature register --namespace {catalog.CONTAINER_SERVICE_NAMESPACE} "
        f"--name {catalog.MANAGED_GPU_FEATURE} && "
        f"az provider register --namespace {catalog.CONTAINER_SERVICE_NAMESPACE}"
    )
