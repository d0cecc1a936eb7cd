"""Kubernetes workloads: their pod specs (`pod_templates`), containers, and what the NVIDIA device plugin is.

The device plugin is recognised per container, by its image from its publishers'
registries, when a rule grants it something (labels, names and repository names
are easy to copy), and by any sign at all when a rule refuses it (a second plugin
beside the AKS-managed GPU stack). A pod with one such container does not lend
that container's exemptions to the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from aks_gpu.facts import device_plugin
from policy.rules.model import get, is_unknown, items, mapping, reveal, text
from policy.rules.pod_templates import PodSpecAt, pod_specs
from policy.rules.resource_types import is_helm_release, kubernetes_kind

# Kinds that run one pod per matching node by design: node agents (monitoring,
# logging, device plugins). They go where nodes are; they never make a node stay or come.
NODE_AGENT_KINDS = frozenset({"DaemonSet"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def is_node_agent(resource_type: str) -> bool:
    """A DaemonSet (any API version): a pod per node, wherever nodes are."""
    return kubernetes_kind(resource_type) in NODE_AGENT_KINDS


def containers(spec: Mapping[str, Any], *kinds: str) -> Iterator[Mapping[str, Any]]:
    """The pod's containers of the given lists (all three by default), skipping what is not a container."""
    for kind in kinds or CONTAINER_LISTS:
        for container in map(mapping, items(spec.get(kind))):
            if container:
                yield container


def workload_name(resource_type: str, props: Mapping[str, Any], fallback: str = "", where: str = "") -> str:
    """`Kind 'name'` for messages, with the pod spec's place in the object when it has several."""
    kind = kubernetes_kind(resource_type) or resource_type.rsplit(":", 1)[-1]
    name = text(get(props, "metadata", "name")) or fallback or "?"
    return f"{kind} '{name}'" + (f" at {where}" if where else "")


def runs_device_plugin_image(container: Mapping[str, Any]) -> bool:
    """The container runs the NVIDIA device plugin's image from its publishers' registries (tagged or by digest)."""
    return device_plugin.is_device_plugin_image(text(container.get("image")) or "")


def without_device_plugin(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec with its device plugin containers left out; None when the plugin is all it runs.

    The plugin serves the node and takes no GPU; every other container of its pod is judged as usual.
    """
    listed = reveal(spec.get("containers"))
    if not isinstance(listed, list):
        return spec
    others = [c for c in listed if not runs_device_plugin_image(mapping(c))]
    if listed and not others:
        return None
    return {**spec, "containers": others}


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
    """Broader than the trusted image: used to *refuse*, so any sign counts (a look-alike from any registry too)."""
    if is_helm_release(resource_type):
        return helm_release_installs_device_plugin(props)
    labels = mapping(get(props, "metadata", "labels"))
    name = text(get(props, "metadata", "name")) or ""
    return (
        any(_names_plugin(at) for at in pod_specs(resource_type, props))
        or text(labels.get("app.kubernetes.io/name")) == device_plugin.NAME
        or device_plugin.NAME in name
    )


def _names_plugin(at: PodSpecAt) -> bool:
    return any(device_plugin.names_device_plugin(text(c.get("image")) or "") for c in containers(at.spec))


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
    return device_plugin.names_device_plugin(text(get(values, "image", "repository")) or "")
