"""Kubernetes objects as an AKS cluster shows them, for the test API server and the benchmarks.

Nodes (GPU and system pool), pods in the states the diagnosis must tell apart
(pulling, creating, running, crash-looping, failing to pull, unschedulable),
events (the scheduler's, the kubelet's, the cluster autoscaler's) and Jobs.
Field shapes follow the core/v1 and batch/v1 APIs; the texts are those the
kubelet, the scheduler and the autoscaler write.
"""

from __future__ import annotations

import itertools
from typing import Any

GPU_LABELS = {"kubernetes.azure.com/accelerator": "nvidia"}
PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.18.0"
_uids = itertools.count(1)


def gpu_node(
    name: str,
    capacity: int = 1,
    allocatable: int | None = None,
    *,
    vm_size: str | None = "Standard_NC4as_T4_v3",
    labels: dict[str, str] | None = None,
    resource: str = "nvidia.com/gpu",
    ready: str | None = "True",
    unschedulable: bool = False,
    taints: list[dict[str, str]] | None = None,
    conditions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A GPU node as AKS shows it; `allocatable` defaults to `capacity`.

    `ready` is the Ready condition's status (None: no conditions yet); the
    node lifecycle controller's taints for it are not added by themselves:
    pass them in `taints` (see `lifecycle_taints`). `conditions` are added
    as given (e.g. node problem detector's XIDErrors).
    """
    node_labels = {**GPU_LABELS, **(labels or {})}
    if vm_size:
        node_labels["node.kubernetes.io/instance-type"] = vm_size
    gpus = {resource: str(capacity)} if capacity else {}
    free = capacity if allocatable is None else allocatable
    node = _node(
        name,
        node_labels,
        capacity={"cpu": "4", "memory": "28Gi", **gpus},
        allocatable={"cpu": "3860m", "memory": "24Gi", **({resource: str(free)} if gpus else {})},
    )
    if ready is not None:
        reason = {"True": "KubeletReady", "False": "KubeletNotReady", "Unknown": "NodeStatusUnknown"}.get(ready, "")
        node["status"]["conditions"] = [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            {"type": "Ready", "status": ready, "reason": reason, "message": f"test node is {reason}"},
            *(conditions or []),
        ]
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if taints:
        node["spec"]["taints"] = taints
    return node


def lifecycle_taints(*keys: str) -> list[dict[str, str]]:
    """The NoSchedule and NoExecute taints the node lifecycle controller adds, e.g. for "unreachable"."""
    return [
        {"key": f"node.kubernetes.io/{key}", "effect": effect, "timeAdded": "2026-01-01T00:00:00Z"}
        for key in keys
        for effect in ("NoSchedule", "NoExecute")
    ]


def cpu_node(name: str) -> dict[str, Any]:
    """A system-pool node: not matched by the GPU selector."""
    labels = {"kubernetes.azure.com/agentpool": "system", "node.kubernetes.io/instance-type": "Standard_D4ds_v5"}
    return _node(name, labels, capacity={"cpu": "4"}, allocatable={"cpu": "3860m"})


def _node(name: str, labels: dict[str, str], capacity: dict[str, str], allocatable: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": labels, "uid": f"uid-{name}"},
        "spec": {},
        "status": {"capacity": capacity, "allocatable": allocatable},
    }


# --- pods ---------------------------------------------------------------------------


def waiting(reason: str, message: str = "", restarts: int = 0, last_exit: int | None = None) -> dict[str, Any]:
    """A container status waiting for `reason` (ContainerCreating, ImagePullBackOff, CrashLoopBackOff, ...)."""
    status: dict[str, Any] = {
        "state": {"waiting": {"reason": reason, **({"message": message} if message else {})}},
        "restartCount": restarts,
        "ready": False,
    }
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error" if last_exit else "Completed"}}
    return status


def running(restarts: int = 0, last_exit: int | None = None) -> dict[str, Any]:
    """A running container status (after `restarts` restarts, the last ending with `last_exit`)."""
    status: dict[str, Any] = {
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        "restartCount": restarts,
        "ready": True,
    }
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error" if last_exit else "Completed"}}
    return status


def terminated(exit_code: int, reason: str | None = None) -> dict[str, Any]:
    """A container status that ended with `exit_code` (restartPolicy Never: the pod's end)."""
    why = reason or ("Completed" if exit_code == 0 else "Error")
    return {"state": {"terminated": {"exitCode": exit_code, "reason": why}}, "restartCount": 0, "ready": False}


def pod(
    namespace: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    node: str | None = "aks-gpu-0",
    phase: str = "Pending",
    container: str = "main",
    image: str = "sample",
    status: dict[str, Any] | None = None,
    unschedulable: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Pod with one container; `status` is its container status (see `waiting`, `running`, `terminated`).

    `unschedulable` is the scheduler's message: the pod then has no node and a
    PodScheduled condition False with reason Unschedulable, as the scheduler writes it.
    """
    conditions: list[dict[str, str]] = []
    if unschedulable is not None:
        node = None
        conditions.append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}
        )
    pod_status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if status is not None:
        pod_status["containerStatuses"] = [{"name": container, "image": image, **status}]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"pod-uid-{next(_uids)}",
            "labels": labels or {},
            "annotations": annotations or {},
            "creationTimestamp": created,
        },
        "spec": {"containers": [{"name": container, "image": image}], "nodeName": node},
        "status": pod_status,
    }


def plugin_pod(namespace: str, name: str, **options: Any) -> dict[str, Any]:
    """An NVIDIA device plugin DaemonSet pod (`pod` options apply)."""
    options.setdefault("labels", {"app.kubernetes.io/name": "nvidia-device-plugin"})
    return pod(namespace, name, container="nvidia-device-plugin-ctr", image=PLUGIN_IMAGE, **options)


def job_pod(namespace: str, job: str, name: str, **options: Any) -> dict[str, Any]:
    """A pod of Job `job`, labelled as the Job controller labels it (`pod` options apply)."""
    labels = {"job-name": job, "batch.kubernetes.io/job-name": job, **options.pop("labels", {})}
    return pod(namespace, name, labels=labels, **options)


# --- events and jobs --------------------------------------------------------------------


def event(
    namespace: str,
    pod_name: str,
    reason: str,
    message: str,
    *,
    component: str = "kubelet",
    kind: str = "Pod",
    event_type: str = "Warning",
    count: int = 1,
) -> dict[str, Any]:
    """A core/v1 Event about `pod_name`, reported by `component` (default-scheduler, cluster-autoscaler, ...)."""
    serial = next(_uids)
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": f"{pod_name}.{serial:x}", "namespace": namespace},
        "involvedObject": {"kind": kind, "namespace": namespace, "name": pod_name, "apiVersion": "v1"},
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "type": event_type,
        "count": count,
    }


def job(namespace: str, name: str, conditions: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A batch/v1 Job with `conditions` (e.g. [{"type": "Complete", "status": "True"}])."""
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [], "restartPolicy": "Never"}}},
        "status": {"conditions": [{"lastTransitionTime": "2026-01-01T00:00:00Z", **c} for c in conditions or []]},
    }


# --- selectors --------------------------------------------------------------------------


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Whether `labels` satisfy a comma-separated equality label selector."""
    return _terms_match(selector, labels.get)


def field_selector_matches(selector: str | None, obj: dict[str, Any]) -> bool:
    """Whether `obj` satisfies a comma-separated equality field selector (metadata.name=x, involvedObject.kind=Pod)."""
    return _terms_match(selector, lambda path: _field(obj, path))


def _field(obj: dict[str, Any], path: str) -> str | None:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return None if value is None else str(value)


def _terms_match(selector: str | None, lookup: Any) -> bool:
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if lookup(key.strip()) == value.strip():
                return False
            continue
        key, value = term.replace("==", "=").split("=", 1)
        if lookup(key.strip()) != value.strip():
            return False
    return True
