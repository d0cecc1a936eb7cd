"""The resource rule against host-wide access: privilege, escalation, capabilities, host namespaces, hostPath.

What a container may add is the Pod Security Standards' Baseline set. One
exception, and only one: the NVIDIA device plugin's container, recognised by its
image from its publishers' registries (never by a neighbour in the same pod),
running with a MIG strategy (`MIG_STRATEGY` single or mixed) adds SYS_ADMIN to
watch the MIG devices, as NVIDIA's chart does. Kubernetes refuses
`allowPrivilegeEscalation: false` beside SYS_ADMIN, so that container may leave
it unset or true. The only hostPath any pod may mount is the device plugin's
socket directory, and only the device plugin's containers may mount it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from aks_gpu.facts import device_plugin, pod_security
from policy.rules.model import get, is_unknown, items, mapping, reveal, text
from policy.rules.pod_templates import pod_specs
from policy.rules.resource_types import kubernetes_kind
from policy.rules.workloads import containers, mig_strategy, runs_device_plugin_image, workload_name

DEVICE_PLUGIN_HOST_PATH = device_plugin.SOCKET_DIR
# Capabilities under which Kubernetes always allows escalation (it refuses `false` beside them).
_ESCALATING_CAPABILITIES = {"SYS_ADMIN", "ALL"}


def added_capabilities(context: Mapping[str, Any]) -> set[str] | None:
    """The capabilities a securityContext adds, as the runtime names them; None while unknown."""
    added = reveal(get(context, "capabilities", "add"))
    if is_unknown(added):
        return None
    return {pod_security.capability_name(text(c) or "") for c in items(added)} - {""}


def _capability_message(what: str, name: str, beyond: set[str], container: Mapping[str, Any]) -> str:
    message = (
        f"{what}: container '{name}' adds {sorted(beyond)}, beyond the capabilities the Pod Security "
        "Standards' Baseline allows; they reach past the container into the node (SYS_ADMIN or ALL is "
        "as good as privileged). Drop them."
    )
    if device_plugin.MIG_CAPABILITY in beyond and runs_device_plugin_image(container):
        message += (
            f" The NVIDIA device plugin needs {device_plugin.MIG_CAPABILITY} only with "
            f"{device_plugin.MIG_STRATEGY_ENV} set to one of {list(device_plugin.MIG_STRATEGIES)}."
        )
    return message


def _escalation_message(what: str, name: str, context: Mapping[str, Any]) -> str | None:
    value = reveal(context.get("allowPrivilegeEscalation"))
    if value is False or is_unknown(value):
        return None
    if value is True:
        return f"{what}: container '{name}' sets allowPrivilegeEscalation: true. Set it to false."
    return (
        f"{what}: container '{name}' leaves allowPrivilegeEscalation unset, and Kubernetes then lets its "
        "processes gain privileges (setuid binaries). Set securityContext.allowPrivilegeEscalation: false."
    )


def container_violations(what: str, container: Mapping[str, Any]) -> list[str]:
    """One container's privilege, capabilities and escalation, skipping what the preview cannot know yet."""
    name = text(container.get("name")) or "?"
    raw_context = reveal(container.get("securityContext"))
    mig = mig_strategy(container)
    added = added_capabilities(mapping(raw_context))
    if is_unknown(raw_context) or is_unknown(mig) or added is None:
        return []  # judged again when `up` knows the container
    context = mapping(raw_context)
    messages = []
    privileged = reveal(context.get("privileged")) is True
    if privileged:
        messages.append(
            f"{what}: container '{name}' is privileged (full access to the node and its GPUs). "
            "Set securityContext.privileged: false."
        )
    granted = {device_plugin.MIG_CAPABILITY} if mig else set()
    beyond = added - pod_security.BASELINE_CAPABILITIES - granted
    if beyond:
        messages.append(_capability_message(what, name, beyond, container))
    # Privileged, SYS_ADMIN and ALL imply escalation, and Kubernetes refuses `false` beside them:
    # the messages above already name the cause.
    escalation = None if privileged or added & _ESCALATING_CAPABILITIES else _escalation_message(what, name, context)
    return messages + ([escalation] if escalation else [])


def host_namespace_violations(what: str, spec: Mapping[str, Any]) -> list[str]:
    """The pod shares the node's process, IPC or network namespace."""
    return [
        f"{what} sets {field}: true, sharing the node's {field.removeprefix('host').upper()} namespace "
        "with the pod. Remove it."
        for field in pod_security.HOST_NAMESPACE_FIELDS
        if reveal(spec.get(field)) is True
    ]


def _mounted_by_plugin_only(spec: Mapping[str, Any], volume: str) -> bool | None:
    """Whether the containers that mount `volume` are all the device plugin (and there is one); None while unknown."""
    mounters = []
    for container in containers(spec):
        mounts = reveal(container.get("volumeMounts"))
        if is_unknown(mounts):
            return None
        if any(text(mapping(m).get("name")) == volume for m in items(mounts)):
            mounters.append(container)
    return bool(mounters) and all(runs_device_plugin_image(c) for c in mounters)


def _host_path_allowed(spec: Mapping[str, Any], volume: Mapping[str, Any], path: str) -> bool | None:
    # normpath folds "/a/b/" and "/a/./b" into "/a/b"; a leading "//" stays and is refused.
    if posixpath.normpath(path) != DEVICE_PLUGIN_HOST_PATH:
        return False
    return _mounted_by_plugin_only(spec, text(volume.get("name")) or "")


def host_path_violations(what: str, spec: Mapping[str, Any]) -> list[str]:
    """hostPath volumes other than the device plugin's socket directory, mounted by the plugin's containers only."""
    messages = []
    for volume in map(mapping, items(spec.get("volumes"))):
        path = get(volume, "hostPath", "path")
        if volume.get("hostPath") is None or is_unknown(path):
            continue
        path_text = text(path) or repr(path)
        if _host_path_allowed(spec, volume, path_text) is False:
            messages.append(
                f"{what}: volume '{text(volume.get('name')) or '?'}' mounts hostPath {path_text}. Only the "
                f"NVIDIA device plugin's containers (image {' or '.join(device_plugin.TRUSTED_REPOSITORIES)}) "
                f"may mount a hostPath, and only {DEVICE_PLUGIN_HOST_PATH}; no other container of the pod may "
                "mount that volume."
            )
    return messages


def persistent_volume_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A PersistentVolume backed by a hostPath hands that node path to whichever pod claims it."""
    path = get(props, "spec", "hostPath", "path")
    if get(props, "spec", "hostPath") is None or is_unknown(path):
        return []
    return [
        f"{workload_name(resource_type, props)} is a hostPath volume ({text(path) or repr(path)}): any pod that "
        "claims it reads and writes the node's files. Use a CSI-backed storage class instead."
    ]


def privilege_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Resource rule: host-wide access from any pod spec of the object (or a hostPath PersistentVolume)."""
    if kubernetes_kind(resource_type) == "PersistentVolume":
        return persistent_volume_violations(resource_type, props)
    messages = []
    for at in pod_specs(resource_type, props):
        what = workload_name(resource_type, props, where=at.where)
        messages += host_namespace_violations(what, at.spec)
        for container in containers(at.spec):
            messages += container_violations(what, container)
        messages += host_path_violations(what, at.spec)
    return messages
