"""The GPU acceptance test: a ConfigMap with the in-pod package and an Indexed Job with one pod per GPU node.

The package (`aks_gpu/workloads/gpu_acceptance/`) reaches the pods through a ConfigMap, one key per file,
mounted as `/scripts/gpu_acceptance` and run as `python3 -m gpu_acceptance`, so the image is a stock CUDA
PyTorch image and the test needs no network at run time beyond pulling that image.

The expectation each pod gets comes from the facts: per model the healthy references
(`facts.acceptance_references.MODEL_REFERENCES`), per size Azure's node health check floors (`SIZE_FLOORS`),
the datasheet share (`acceptanceMinFraction`) where neither exists, and the stack's own references
(`acceptanceReferences`) in place of the catalog's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from aks_gpu.builders.pods import PART_OF, gpu_node_affinity, tolerations_for
from aks_gpu.config.gpu_pool import GpuPoolSettings
from aks_gpu.facts.acceptance_references import MODEL_REFERENCES, OUTLIER_MARGIN, SIZE_FLOORS, TOLERANCE, SizeFloors
from aks_gpu.facts.gpu_models import GpuModel
from aks_gpu.facts.vm_sizes import find_gpu_vm_size
from aks_gpu.workloads import gpu_acceptance

APP = "gpu-acceptance"
PACKAGE = "gpu_acceptance"  # the directory the ConfigMap is mounted as, and the module `python3 -m` runs
SCRIPT_DIR = "/scripts"
HOSTNAME_LABEL = "kubernetes.io/hostname"
# NCCL's shared-memory transport needs more than the container runtime's 64 MiB /dev/shm.
SHM_SIZE = "16Gi"
# Measuring takes minutes; pulling a multi-gigabyte image and, from zero, bringing up a GPU node comes first.
JOB_TIMEOUT_SECONDS = 3600
STACK_SOURCE = "acceptanceReferences: this stack's own healthy run"


def acceptance_files() -> dict[str, str]:
    """The package's files by name, as the ConfigMap carries them (file names are valid ConfigMap keys)."""
    folder = resources.files(gpu_acceptance.__name__)
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda item: item.name)
        if entry.name.endswith(".py")
    }


def script_config_map(namespace_name: str, files: Mapping[str, str]) -> dict[str, Any]:
    """A core/v1 ConfigMap holding the package (auto-named, so a new package makes a new ConfigMap)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": namespace_name, "labels": {"app": APP, **PART_OF}},
        "data": dict(files),
    }


def _rate_check(name: str, model: GpuModel, datasheet: float, fraction: float, mig: bool) -> dict[str, Any]:
    reference = None if mig else MODEL_REFERENCES.get(model.name, {}).get(name)
    if reference is not None:
        return {
            "floor": reference.floor,
            "reference": reference.value,
            "basis": reference.basis,
            "source": reference.source,
        }
    source = f"{fraction:g} x datasheet {datasheet:g}; uncalibrated: no measured reference for {model.name}"
    return {"floor": round(fraction * datasheet, 1), "reference": datasheet, "basis": "datasheet", "source": source}


def _floor_check(value: float | None, floors: SizeFloors | None) -> dict[str, Any]:
    if value is None or floors is None:
        return {"floor": None, "basis": "none", "source": "no published floor for this size"}
    return {"floor": float(value), "basis": "aznhc", "source": floors.source}


def _checks(pool: GpuPoolSettings, model: GpuModel, min_fraction: float, gpus: int) -> dict[str, dict[str, Any]]:
    tflops, gbps = model.per_device(pool.mig_profile)
    mig = bool(pool.mig_profile)
    floors = None if mig else SIZE_FLOORS.get(pool.vm_size)
    checks = {
        "matmul": _rate_check("matmul", model, tflops, min_fraction, mig),
        "copy": _rate_check("copy", model, gbps, min_fraction, mig),
        "h2d": _floor_check(floors.h2d if floors else None, floors),
        "d2h": _floor_check(floors.h2d if floors else None, floors),
    }
    if gpus > 1 and not mig:
        checks["p2p"] = _floor_check(floors.p2p if floors else None, floors)
        checks["allreduce"] = _floor_check(floors.allreduce if floors else None, floors)
    return checks


def expectation(
    pool: GpuPoolSettings, min_fraction: float, references: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """What each device and node of the pool must show: per check a floor, its basis and its source.

    `references` are the stack's own healthy figures (check name -> TFLOP/s or GB/s per device); each replaces
    the catalog's floor with itself x TOLERANCE["stack"]. Raises ValueError when the catalog has no figures for
    the pool's GPU.
    """
    size = find_gpu_vm_size(pool.vm_size)
    model = size.gpu if size else None
    if size is None or model is None:
        raise ValueError(f"the catalog has no GPU figures for {pool.vm_size}")
    floors = SIZE_FLOORS.get(size.name)
    checks = _checks(pool, model, min_fraction, size.gpus_per_node)
    for name, value in (references or {}).items():
        checks[name] = {
            "floor": round(value * TOLERANCE["stack"], 1),
            "reference": value,
            "basis": "stack",
            "source": STACK_SOURCE,
        }
    return {
        "model": model.name,
        "dtype": model.tensor_dtype,
        "gpus": size.gpus_per_node,
        "devices": pool.devices_per_node,
        "nvlink": bool(floors and floors.nvlink and not pool.mig_profile),
        "outlierMargin": OUTLIER_MARGIN,
        "allreduceBytes": floors.allreduce_bytes if floors else 1 << 30,
        "checks": checks,
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

    Each pod mounts the package and a memory-backed /dev/shm (NCCL's shared-memory transport).

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


def script_digest(files: Mapping[str, str]) -> str:
    """SHA-256 over the package's files (name and text of each, in name order), hex."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\0".encode())
    return digest.hexdigest()


def _pod_spec(config_map_name: str, image: str, pool: GpuPoolSettings, expected: dict[str, Any]) -> dict[str, Any]:
    affinity = gpu_node_affinity(pool.name)
    # One pod per node: a second pod would share the node's GPUs and measure nothing new.
    affinity["podAntiAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": APP}}, "topologyKey": HOSTNAME_LABEL}
        ]
    }
    run = f"python3 -m {PACKAGE}"
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
                    {"name": "PYTHONPATH", "value": SCRIPT_DIR},
                    # The package's mount is read-only: no bytecode to write; lines reach the log as printed.
                    {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                    {"name": "PYTHONUNBUFFERED", "value": "1"},
                ],
                "resources": {"limits": {pool.gpu_resource: pool.devices_per_node}},
                "securityContext": {"allowPrivilegeEscalation": False},
                "volumeMounts": [
                    {"name": "script", "mountPath": f"{SCRIPT_DIR}/{PACKAGE}", "readOnly": True},
                    {"name": "dshm", "mountPath": "/dev/shm"},
                ],
            }
        ],
        "volumes": [
            {"name": "script", "configMap": {"name": config_map_name}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}},
        ],
    }
