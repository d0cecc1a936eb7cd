"""The GPU acceptance test: a ConfigMap with the script and an Indexed Job with one pod per GPU node.

The script (`aks_gpu/workloads/gpu_acceptance.py`) reaches the pods through a
ConfigMap, so the image is a stock CUDA PyTorch image and the test needs no
network at run time beyond pulling that image.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

from aks_gpu.builders.pods import PART_OF, gpu_node_affinity, tolerations_for
from aks_gpu.config.gpu_pool import GpuPoolSettings
from aks_gpu.facts.vm_sizes import find_gpu_vm_size
from aks_gpu.workloads import gpu_acceptance

APP = "gpu-acceptance"
SCRIPT_FILE = "gpu_acceptance.py"
SCRIPT_DIR = "/scripts"
HOSTNAME_LABEL = "kubernetes.io/hostname"
# Measuring is a few minutes per GPU; pulling a multi-gigabyte image and, from zero,
# bringing up a GPU node comes first.
JOB_TIMEOUT_SECONDS = 3600


def acceptance_script() -> str:
    """The script's source, as the ConfigMap carries it."""
    return resources.files(gpu_acceptance.__package__).joinpath(SCRIPT_FILE).read_text(encoding="utf-8")


def script_config_map(namespace_name: str, script: str) -> dict[str, Any]:
    """A core/v1 ConfigMap holding the script (auto-named, so a new script makes a new ConfigMap)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": namespace_name, "labels": {"app": APP, **PART_OF}},
        "data": {SCRIPT_FILE: script},
    }


def expectation(pool: GpuPoolSettings, min_fraction: float) -> dict[str, Any]:
    """What each device of the pool must show, from the catalog's datasheet figures.

    A MIG instance is expected to reach its share of the GPU's compute and memory.
    Raises ValueError when the catalog has no figures for the pool's GPU.
    """
    size = find_gpu_vm_size(pool.vm_size)
    model = size.gpu if size else None
    if model is None:
        raise ValueError(f"the catalog has no GPU figures for {pool.vm_size}")
    tflops, gbps = model.per_device(pool.mig_profile)
    return {
        "model": model.name,
        "dtype": model.tensor_dtype,
        "tflops": round(tflops, 1),
        "gbps": round(gbps, 1),
        "minFraction": min_fraction,
    }


def completions(pool: GpuPoolSettings) -> int:
    """One pod per node at the pool's floor; a pool that scales from zero gets one (it brings up one node)."""
    return max(pool.floor_nodes, 1)


def acceptance_job(
    *,
    namespace_name: str,
    config_map_name: str,
    image: str,
    pool: GpuPoolSettings,
    expected: dict[str, Any],
    script_digest: str,
) -> dict[str, Any]:
    """An Indexed batch/v1 Job: `completions(pool)` pods, one per GPU node, each taking all its node's devices.

    The pod exits 0 whether the GPUs passed or not, once it has measured them: the
    stack reads the verdicts from the logs and fails `pulumi up` with the figures,
    which a failed Job could not say. It exits non-zero only when it could not run.
    """
    count = completions(pool)
    labels = {"app": APP, **PART_OF}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "namespace": namespace_name,
            "labels": labels,
            "annotations": {
                "pulumi.com/timeoutSeconds": str(JOB_TIMEOUT_SECONDS),
                # A Job that did not complete is replaced on the next `pulumi up`.
                "pulumi.com/replaceUnready": "true",
                # The stack's result check waits for the Job itself, diagnosing a stuck pod within
                # a minute; pulumi-kubernetes' own await would only time out (issue 16).
                "pulumi.com/skipAwait": "true",
            },
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": count,
            "parallelism": count,
            "backoffLimit": count,
            "template": {
                # The script's digest in the template: a new script re-runs the test.
                "metadata": {"labels": labels, "annotations": {"aks-gpu/script-sha256": script_digest}},
                "spec": _pod_spec(config_map_name, image, pool, expected),
            },
        },
    }


def script_digest(script: str) -> str:
    """SHA-256 of the script, hex."""
    return hashlib.sha256(script.encode("utf-8")).hexdigest()


def _pod_spec(config_map_name: str, image: str, pool: GpuPoolSettings, expected: dict[str, Any]) -> dict[str, Any]:
    affinity = gpu_node_affinity(pool.name)
    # One pod per node: a second pod would share the node's GPUs and measure nothing new.
    affinity["podAntiAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": APP}}, "topologyKey": HOSTNAME_LABEL}
        ]
    }
    run = f"python3 {SCRIPT_DIR}/{SCRIPT_FILE}"
    return {
        "restartPolicy": "Never",
        "affinity": affinity,
        "tolerations": tolerations_for(pool.node_taints),
        "containers": [
            {
                "name": APP,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                # Exit codes 0 (passed) and 1 (a GPU fell short) both mean "measured".
                "command": ["sh", "-c", f'{run}; code=$?; [ "$code" -le 1 ] && exit 0; exit "$code"'],
                "env": [
                    {"name": gpu_acceptance.EXPECTATION_ENV, "value": json.dumps(expected, sort_keys=True)},
                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                ],
                "resources": {"limits": {pool.gpu_resource: pool.devices_per_node}},
                "securityContext": {"allowPrivilegeEscalation": False},
                "volumeMounts": [{"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True}],
            }
        ],
        "volumes": [{"name": "script", "configMap": {"name": config_map_name}}],
    }
