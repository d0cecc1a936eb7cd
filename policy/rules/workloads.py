"""Kubernetes workloads: where each kind keeps its pod spec, its containers, and what the NVIDIA device plugin is.

The device plugin is recognised by its image when a rule grants it something
(labels and names are easy to copy), and by any sign at all when a rule refuses
it (a second plugin beside the AKS-managed GPU stack).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from aks_gpu.facts import device_plugin
from policy.rules.model import get, is_unknown, items, mapping, reveal, text
from policy.rules.resource_types import is_helm_release, kubernetes_kind

# Where each workload kind keeps its pod spec; every API version and `...Patch` type alike.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Kinds that run one pod per matching node by design: node agents (monitoring,
# logging, device plugins). They go where nodes are; they never make a node stay or come.
NODE_AGENT_KINDS = frozenset({"DaemonSet"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec inside a workload's properties, or None for other resource types."""
    path = POD_SPEC_PATHS.get(kubernetes_kind(resource_type) or "")
    if path is None:
        return None
    spec = get(props, *path)
    return spec if isinstance(spec, Mapping) else None


def is_node_agent(resource_type: str) -> bool:
    """A DaemonSet (any API version): a pod per node, wherever nodes are."""
    return kubernetes_kind(resource_type) in NODE_AGENT_KINDS


def containers(spec: Mapping[str, Any], *kinds: str) -> Iterator[Mapping[str, Any]]:
    """The pod's containers of the given lists (all three by default), skipping what is not a container."""
    for kind in kinds or CONTAINER_LISTS:
        for container in map(mapping, items(spec.get(kind))):
            if container:
                yield container


def workload_name(resource_type: str, props: Mapping[str, Any], fallback: str = "") -> str:
    """`Kind 'name'` for messages."""
    kind = kubernetes_kind(resource_type) or resource_type.rsplit(":", 1)[-1]
    name = text(get(props, "metadata", "name")) or fallback or "?"
    return f"{kind} '{name}'"


def runs_device_plugin_image(container: Mapping[str, Any]) -> bool:
    """The container runs the NVIDIA device plugin's image (mirrored, tagged or by digest)."""
    return device_plugin.is_device_plugin_image(text(container.get("image")) or "")


def is_device_plugin(spec: Mapping[str, Any]) -> bool:
    """The NVIDIA device plugin, recognised by its image (labels are easy to copy)."""
    return any(runs_device_plugin_image(c) for c in containers(spec))


def env_value(container: Mapping[str, Any], name: str) -> Any:
    """A literal environment value of the container: the string, None when absent, UNKNOWN when not known yet."""
    env = reveal(container.get("env"))
    if is_unknown(env):
        return env
    for entry in map(mapping, items(env)):
        if text(entry.get("name")) == name:
            return reveal(entry.get("value"))
    return None


def mig_strategy(container: Mapping[str, Any]) -> Any:
    """The device plugin container's MIG strategy when it exposes MIG instances (`single`, `mixed`).

    None for any other container or strategy; UNKNOWN while the preview cannot tell.
    """
    if not runs_device_plugin_image(container):
        return None
    value = env_value(container, device_plugin.MIG_STRATEGY_ENV)
    if is_unknown(value):
        return value
    return value if value in device_plugin.MIG_STRATEGIES else None


def looks_like_device_plugin(resource_type: str, props: Mapping[str, Any]) -> bool:
    """Broader than `is_device_plugin`: used to *refuse*, so any sign counts."""
    if is_helm_release(resource_type):
        return helm_release_installs_device_plugin(props)
    spec = pod_spec(resource_type, props) or {}
    labels = mapping(get(props, "metadata", "labels"))
    name = text(get(props, "metadata", "name")) or ""
    return (
        is_device_plugin(spec)
        or text(labels.get("app.kubernetes.io/name")) == device_plugin.NAME
        or device_plugin.NAME in name
    )


def chart_name(chart: str) -> str:
    """The chart's own name in any spelling Helm takes: `repo/name`, `oci://host/path/name`, `name-1.2.3.tgz`."""
    last = chart.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tgz")
    return re.sub(r"-v?[0-9][0-9A-Za-z.+-]*$", "", last)


def helm_release_installs_device_plugin(props: Mapping[str, Any]) -> bool:
    """A Helm release of NVIDIA's device plugin chart, of the GPU Operator with its plugin, or of the plugin's image."""
    chart = chart_name(text(props.get("chart")) or "")
    values = mapping(props.get("values"))
    if chart == device_plugin.HELM_CHART:
        return True
    if chart == device_plugin.GPU_OPERATOR_CHART:
        return reveal(get(values, "devicePlugin", "enabled")) is not False
    return device_plugin.is_device_plugin_image(text(get(values, "image", "repository")) or "")
