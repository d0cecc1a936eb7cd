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

# Component name in the first release's __main__.py, by component type token.
FIRST_RELEASE_NAMES = {
    "aks-gpu:index:GpuCluster": "aks-gpu",
    "aks-gpu:index:NvidiaDevicePlugin": "nvidia-device-plugin",
    "aks-gpu:index:SampleGpuJob": "sample-gpu-job",
    "aks-gpu:index:GpuVerification": "gpu-verification",
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
