"""ARM properties of the AKS cluster and its agent pools, built by pure functions.

The properties are in ARM's camelCase shape: the generic ARM resource that
carries the managed GPU pool takes them as they are, the typed AgentPool takes
them through `as_resource_args`, and tests and the policy pack read the same shape.
"""

from __future__ import annotations

import re
from typing import Any

from aks_gpu.config.access import AccessSettings
from aks_gpu.config.cluster import SYSTEM_POOL_NAME, ClusterSettings
from aks_gpu.config.gpu_pool import GpuPoolSettings


def dns_prefix(cluster: ClusterSettings) -> str:
    """A DNS prefix from the cluster name (AKS allows letters, digits and '-', at most 54)."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "", cluster.cluster_name or "aks-gpu")[:54].strip("-")
    return cleaned or "aks-gpu"


def cluster_properties(cluster: ClusterSettings, access: AccessSettings | None = None) -> dict[str, Any]:
    """A new cluster: RBAC on, a system-assigned managed identity, the system pool inline.

    With `access.entra_id`, also AKS-managed Entra ID, Azure RBAC and no local accounts.
    """
    props: dict[str, Any] = {
        "dnsPrefix": dns_prefix(cluster),
        "enableRBAC": True,
        # Managed identity instead of a service principal: no password to store or rotate.
        "identity": {"type": "SystemAssigned"},
        "agentPoolProfiles": [system_pool_profile(cluster)],
    }
    if cluster.cluster_name:
        props["resourceName"] = cluster.cluster_name
    if cluster.kubernetes_version:
        props["kubernetesVersion"] = cluster.kubernetes_version
    if access and access.entra_id:
        props.update(entra_id_properties(access))
    return props


def entra_id_properties(access: AccessSettings) -> dict[str, Any]:
    """AKS-managed Entra ID sign-in, Azure RBAC authorization, and no static credentials.

    Names as in ManagedClusterAADProfileArgs (pulumi-azure-native) and the ARM API.
    """
    profile: dict[str, Any] = {"managed": True, "enableAzureRBAC": True}
    if access.admin_group_object_ids:
        profile["adminGroupObjectIDs"] = list(access.admin_group_object_ids)
    return {
        "aadProfile": profile,
        # Without this, listClusterAdminCredentials hands out a certificate that
        # bypasses Entra ID and Azure RBAC altogether.
        "disableLocalAccounts": True,
    }


def system_pool_profile(cluster: ClusterSettings) -> dict[str, Any]:
    """The system pool, declared inline because AKS needs one to create a cluster."""
    return {
        "name": SYSTEM_POOL_NAME,
        "mode": "System",
        "vmSize": cluster.system_vm_size,
        "count": cluster.system_node_count,
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
    }


def gpu_pool_properties(pool: GpuPoolSettings, cluster: ClusterSettings) -> dict[str, Any]:
    """The GPU pool's agent pool properties (without its name and parent cluster)."""
    props: dict[str, Any] = {
        "mode": "User",
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
        "vmSize": pool.vm_size,
        # Spot's taint is added by AKS itself; declaring it would make every
        # refresh show a diff, so only the user's taints are sent.
        "nodeTaints": [str(taint) for taint in pool.taints],
        "nodeLabels": dict(pool.labels),
        # Install is AKS's default; spelled out so nobody has to remember that
        # `None` (for the GPU Operator) would leave the nodes without a driver.
        "gpuProfile": {"driver": "Install"},
    }
    if cluster.kubernetes_version and cluster.existing is None:
        props["orchestratorVersion"] = cluster.kubernetes_version
    if pool.autoscale:
        props.update(
            enableAutoScaling=True,
            minCount=pool.autoscale.min_count,
            maxCount=pool.autoscale.max_count,
            # The pool starts at its floor (0 is allowed: scale from zero); the autoscaler owns it afterwards.
            count=pool.autoscale.min_count,
        )
    else:
        props.update(enableAutoScaling=False, count=pool.node_count)
    if pool.spot:
        props.update(
            scaleSetPriority="Spot",
            scaleSetEvictionPolicy="Delete",
            spotMaxPrice=pool.spot_max_price,
        )
    if pool.mig_profile:
        props["gpuInstanceProfile"] = pool.mig_profile
    if pool.managed_gpu:
        props["gpuProfile"] = {"driver": "Install", "nvidia": managed_nvidia_profile(pool)}
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


def managed_nvidia_profile(pool: GpuPoolSettings) -> dict[str, Any]:
    """`gpuProfile.nvidia` of an AKS-managed GPU pool: AKS runs the device plugin, so the
    MIG strategy travels here (the CLI's --gpu-mig-strategy Single|Mixed)."""
    nvidia: dict[str, Any] = {"managementMode": "Managed"}
    if pool.mig_strategy:
        nvidia["migStrategy"] = pool.mig_strategy.capitalize()
    return nvidia
