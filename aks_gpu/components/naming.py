"""Options every component child gets: its parent, its provider and the alias of its first-release name.

The first release named children with fixed names ("cluster", "gpu-pool", ...).
Children are now named after their component (`f"{name}-cluster"`); a stack
created by the first release keeps its resources because each child of a
component with the first release's name carries its old name as an alias. A
second instance of a component (another name) gets no such alias: two children
aliasing one old name would be a conflict.
"""

from __future__ import annotations

from typing import Any

import pulumi

from aks_gpu.facts import names

# Component type tokens: <package>:index:<class>, the one place each is written.
GPU_CLUSTER_TYPE = "aks-gpu:index:GpuCluster"
DEVICE_PLUGIN_TYPE = "aks-gpu:index:NvidiaDevicePlugin"
SAMPLE_JOB_TYPE = "aks-gpu:index:SampleGpuJob"
VERIFICATION_TYPE = "aks-gpu:index:GpuVerification"
ACCEPTANCE_TYPE = "aks-gpu:index:GpuAcceptance"
# The GpuCluster component's name; the config layer counts its children's auto-names.
CLUSTER_COMPONENT = names.CLUSTER_COMPONENT

# Component name in the first release's __main__.py, by component type token.
FIRST_RELEASE_NAMES = {
    GPU_CLUSTER_TYPE: CLUSTER_COMPONENT,
    DEVICE_PLUGIN_TYPE: "nvidia-device-plugin",
    SAMPLE_JOB_TYPE: "sample-gpu-job",
    VERIFICATION_TYPE: "gpu-verification",
}


def child_options(
    component: pulumi.ComponentResource, first_release_name: str | None = None, **options: Any
) -> pulumi.ResourceOptions:
    """ResourceOptions for a child of `component`.

    `first_release_name` is the child's name in the first release; it becomes an
    alias when `component` has its first-release name. Other keyword arguments are
    passed to ResourceOptions as they are (provider, depends_on, ignore_changes, ...).
    """
    type_, name = component._type, component._name  # noqa: SLF001 (set by pulumi.Resource)
    aliases = None
    if first_release_name and FIRST_RELEASE_NAMES.get(type_) == name:
        aliases = [pulumi.Alias(name=first_release_name)]
    return pulumi.ResourceOptions(parent=component, aliases=aliases, **options)
