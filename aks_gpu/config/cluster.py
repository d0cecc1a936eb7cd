"""Settings of the cluster: a new one (resource group, name, version, system pool) or an existing one."""

from __future__ import annotations

import dataclasses
import json
import re

from aks_gpu.config import validate
from aks_gpu.config.project import PROJECT, ConfigReader

# The name of the system pool this program declares inline in a new cluster.
SYSTEM_POOL_NAME = "system"

_RESOURCE_GROUP_NAME = re.compile(r"[-\w.()]{0,89}[-\w()]")
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9](?:[-_A-Za-z0-9]{0,61}[A-Za-z0-9])?")
# Azure region names as ARM spells them (eastus, westeurope); display names with spaces work too.
_LOCATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ]{0,63}")
VM_SIZE = re.compile(r"Standard_[A-Za-z0-9_]+")


@dataclasses.dataclass(frozen=True)
class ExistingCluster:
    """An AKS cluster this stack adds its GPU pool to instead of creating one."""

    name: str
    resource_group_name: str


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    """Where the GPU pool lives.

    Attributes:
        location: Azure region (`azure-native:location`); None only with an existing cluster.
        resource_group_name: fixed name of the new resource group; None lets Pulumi auto-name it.
        cluster_name: fixed name of the new cluster; None lets Pulumi auto-name it.
        kubernetes_version: MAJOR.MINOR[.PATCH] of a new cluster; None takes the AKS default.
        system_vm_size: VM size of the inline system pool.
        system_node_count: node count of the system pool (1-1000).
        existing: the cluster to join instead of creating one, or None.
    """

    location: str | None
    resource_group_name: str | None
    cluster_name: str | None
    kubernetes_version: str | None
    system_vm_size: str
    system_node_count: int
    existing: ExistingCluster | None


def read_cluster(r: ConfigReader, location: str | None) -> ClusterSettings:
    """Validate the cluster's keys, recording every problem in `r`."""
    existing = _existing_cluster(r)
    location = _location(r, location)
    if location is None and existing is None:
        r.problems.append(
            "azure-native:location is not set: a new cluster needs a region "
            "(pulumi config set azure-native:location eastus)"
        )
    settings = ClusterSettings(
        location=location,
        resource_group_name=r.matching(
            "resourceGroupName",
            _RESOURCE_GROUP_NAME,
            "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
        ),
        cluster_name=r.matching(
            "clusterName",
            _CLUSTER_NAME,
            "1-63 letters, digits, '-' or '_', starting and ending with a letter or digit",
        ),
        kubernetes_version=_kubernetes_version(r),
        system_vm_size=_system_vm_size(r),
        system_node_count=r.integer("systemNodeCount", 1, 1000),
        existing=existing,
    )
    if existing and (settings.resource_group_name or settings.cluster_name):
        r.problems.append(
            f"{PROJECT}:existingClusterName is set together with resourceGroupName/clusterName: "
            "use existingClusterName and existingClusterResourceGroup to join a cluster, "
            "or resourceGroupName and clusterName to create one, not both"
        )
    if existing is None:
        too_long = validate.node_resource_group_problem(settings.resource_group_name, settings.cluster_name, location)
        if too_long:
            r.fail("clusterName", settings.cluster_name or "", too_long)
    return settings


def _location(r: ConfigReader, location: str | None) -> str | None:
    text = (location or "").strip()
    if text and not _LOCATION.fullmatch(text):
        r.problems.append(
            f"azure-native:location = {json.dumps(text[:80])} is not allowed: an Azure region name such as eastus"
        )
    return text or None


def _kubernetes_version(r: ConfigReader) -> str | None:
    version = r.optional("kubernetesVersion")
    problem = validate.kubernetes_version_problem(version) if version else None
    if problem:
        r.fail("kubernetesVersion", r.values["kubernetesVersion"], "empty (AKS default) or " + problem)
    return version


def _system_vm_size(r: ConfigReader) -> str:
    size = r.matching("systemVmSize", VM_SIZE, "an Azure VM size such as Standard_D4ds_v5") or ""
    if size.lower().startswith("standard_b"):
        r.fail("systemVmSize", size, "a size other than B-series (burstable), which AKS refuses for system pools")
    return size


def _existing_cluster(r: ConfigReader) -> ExistingCluster | None:
    name = r.matching("existingClusterName", _CLUSTER_NAME, "an AKS cluster name")
    group = r.matching("existingClusterResourceGroup", _RESOURCE_GROUP_NAME, "a resource group name")
    if bool(name) != bool(group):
        missing = "existingClusterResourceGroup" if name else "existingClusterName"
        r.problems.append(
            f"{PROJECT}:{missing} is empty: existingClusterName and existingClusterResourceGroup "
            "are set together to add the GPU pool to an existing cluster"
        )
        return None
    return ExistingCluster(name, group) if name and group else None
