"""Kubernetes objects as plain dicts, built by pure functions.

Components register these with pulumi-kubernetes; tests call the same functions
and validate the result against the Kubernetes OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components import catalog

DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
DEVICE_PLUGIN_SOCKET_DIR = "/var/lib/kubelet/device-plugins"
SAMPLE_JOB_NAME = "samples-tf-mnist-demo"


def toleration_for(taint: str) -> dict[str, str]:
    """The toleration that lets a pod onto nodes carrying `taint` (key[=value]:Effect)."""
    key_value, _, effect = taint.rpartition(":")
    key, has_value, value = key_value.partition("=")
    if has_value:
        return {"key": key, "operator": "Equal", "value": value, "effect": effect}
    return {"key": key, "operator": "Exists", "effect": effect}


def tolerations_for(taints: Iterable[str]) -> list[dict[str, str]]:
    return [toleration_for(t) for t in taints]


def namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "aks-gpu"}},
    }


def gpu_node_affinity(pool_name: str) -> dict[str, Any]:
    """Required affinity for the GPU pool's nodes: its agent pool and AKS's GPU label."""
    label, value = catalog.GPU_NODE_LABEL
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": catalog.AGENT_POOL_LABEL, "operator": "In", "values": [pool_name]},
                            {"key": label, "operator": "In", "values": [value]},
                        ]
                    }
                ]
            }
        }
    }


def device_plugin_daemonset(
    *,
    namespace_name: str,
    image: str,
    pool_name: str,
    pool_taints: Iterable[str],
) -> dict[str, Any]:
    """The seed's device plugin DaemonSet, kept in intent and brought up to date."""
    labels = {"app.kubernetes.io/name": DEVICE_PLUGIN_NAME, "app.kubernetes.io/part-of": "aks-gpu"}
    # The seed tolerated CriticalAddonsOnly and nvidia.com/gpu; the pool's own taints
    # (including the Spot taint) are what actually keep the plugin off GPU nodes when missed.
    tolerations = [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": catalog.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
    ]
    tolerations += [t for t in tolerations_for(pool_taints) if t not in tolerations]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": DEVICE_PLUGIN_NAME, "namespace": namespace_name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": DEVICE_PLUGIN_NAME}},
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
                            "name": "nvidia-device-plugin-ctr",
                            "image": image,
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "device-plugin", "mountPath": DEVICE_PLUGIN_SOCKET_DIR}],
                        }
                    ],
                    "volumes": [{"name": "device-plugin", "hostPath": {"path": DEVICE_PLUGIN_SOCKET_DIR}}],
                },
            },
        },
    }


def sample_job(
    *,
    namespace_name: str,
    image: str,
    args: Iterable[str],
    pool_name: str,
    pool_taints: Iterable[str],
    timeout_seconds: int,
    name: str | None = None,
) -> dict[str, Any]:
    """The seed's TensorFlow MNIST job: one GPU, restart on failure, onto the GPU pool."""
    labels = {"app": SAMPLE_JOB_NAME, "app.kubernetes.io/part-of": "aks-gpu"}
    metadata: dict[str, Any] = {
        "namespace": namespace_name,
        "labels": labels,
        # pulumi-kubernetes waits for the Job to complete; a first pull of the
        # sample image plus node scale-up can take many minutes.
        "annotations": {"pulumi.com/timeoutSeconds": str(timeout_seconds)},
    }
    if name:
        metadata["name"] = name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 4,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "affinity": gpu_node_affinity(pool_name),
                    "tolerations": tolerations_for(pool_taints),
                    "containers": [
                        {
                            "name": SAMPLE_JOB_NAME,
                            "image": image,
                            "args": list(args),
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {"limits": {catalog.GPU_RESOURCE: 1}},
                            "securityContext": {"allowPrivilegeEscalation": False},
                        }
                    ],
                },
            },
        },
    }


def with_name(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A copy of `obj` with metadata.name set, for schema validation of auto-named objects."""
    return {**obj, "metadata": {**obj["metadata"], "name": name}}
