"""The NVIDIA device plugin DaemonSet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aks_gpu.builders.pods import PART_OF, gpu_node_affinity, tolerations_for
from aks_gpu.facts import device_plugin
from aks_gpu.facts.kubernetes import GPU_RESOURCE, Taint


def device_plugin_daemonset(
    *,
    namespace_name: str,
    image: str,
    pool_name: str,
    pool_taints: Iterable[Taint],
    mig_strategy: str | None = None,
) -> dict[str, Any]:
    """The seed's device plugin DaemonSet, kept in intent and brought up to date.

    Runs on the GPU pool's nodes only, tolerates the pool's taints (the Spot taint
    included) and mounts nothing but the kubelet's device-plugin socket directory.
    With `mig_strategy` (`single` or `mixed`) the plugin advertises MIG instances.
    """
    labels = {"app.kubernetes.io/name": device_plugin.NAME, **PART_OF}
    # The seed tolerated CriticalAddonsOnly and nvidia.com/gpu; the pool's own taints
    # (including the Spot taint) are what actually keep the plugin off GPU nodes when missed.
    tolerations = [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
    ]
    tolerations += [t for t in tolerations_for(pool_taints) if t not in tolerations]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": device_plugin.NAME, "namespace": namespace_name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": device_plugin.NAME}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # Replaces the removed scheduler.alpha.kubernetes.io/critical-pod annotation.
                    "priorityClassName": "system-node-critical",
                    "affinity": gpu_node_affinity(pool_name),
                    "tolerations": tolerations,
                    "containers": [
                        {
                            "name": f"{device_plugin.NAME}-ctr",
                            "image": image,
                            **plugin_container_settings(mig_strategy),
                            "volumeMounts": [{"name": "device-plugin", "mountPath": device_plugin.SOCKET_DIR}],
                        }
                    ],
                    "volumes": [{"name": "device-plugin", "hostPath": {"path": device_plugin.SOCKET_DIR}}],
                },
            },
        },
    }


def plugin_container_settings(mig_strategy: str | None) -> dict[str, Any]:
    """The plugin container's environment and security context.

    Without MIG the plugin needs no capability at all. With MIG, NVIDIA's own chart
    sets MIG_STRATEGY, NVIDIA_MIG_MONITOR_DEVICES=all and adds SYS_ADMIN, which
    the plugin needs to watch MIG devices; Kubernetes refuses
    allowPrivilegeEscalation: false beside SYS_ADMIN, so it is true only then.
    """
    if not mig_strategy:
        return {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    return {
        "env": [
            {"name": device_plugin.MIG_STRATEGY_ENV, "value": mig_strategy},
            {"name": device_plugin.MIG_MONITOR_ENV[0], "value": device_plugin.MIG_MONITOR_ENV[1]},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": True,
            "capabilities": {"drop": ["ALL"], "add": [device_plugin.MIG_CAPABILITY]},
        },
    }
