"""Logical names the program gives the cluster's Azure resources, needed before those resources exist.

A component names each child `<component>-<role>`, and azure-native auto-names a
resource after its logical name. AKS refuses a node resource group name
MC_<group>_<cluster>_<region> of more than 80 characters, so the config layer
counts the auto-names' characters before anything is created: the names are
composed here, below every layer, and the component uses the same ones.
"""

from __future__ import annotations

# The GpuCluster component's name in __main__.py.
CLUSTER_COMPONENT = "aks-gpu"
# Roles of its children (also their names in the first release, kept as aliases).
RESOURCE_GROUP = "resource-group"
CLUSTER = "cluster"


def child_name(component: str, role: str) -> str:
    """A component child's logical name: `<component>-<role>`, e.g. "aks-gpu-cluster"."""
    return f"{component}-{role}"
