"""What the watches have seen so far, kept so that each event costs the same at 10 and 10,000 pods.

`Tracker` holds the latest view of each watched pod, the pull failures and
autoscaler answers the events reported, and running totals for the progress
line (plugin pods ready, workload pods by phase). Every `pod`, `event`,
`node` and `job` call touches one entry and its counters, never the whole
state; `due` walks only the pods the scheduler could not place yet. It is not
thread-safe: `watch.ClusterWatch` calls it under its lock.
"""

from __future__ import annotations

import collections
from typing import Any

from aks_gpu.facts import device_plugin
from aks_gpu.verifier.cluster_state import EventView, PodView
from aks_gpu.verifier.diagnosis import (
    NO_SCALE_UP,
    PULL_FAILED_EVENT,
    PULL_FAILED_TEXT,
    SCALE_UP_TRIGGERED,
    SCHEDULING_GRACE_SECONDS,
    Diagnosis,
    Finding,
    JobPodsNeeded,
    LogNeeded,
    Role,
    container_fault,
    failed_pod_fault,
    job_complete,
    job_fault,
    node_condition_fault,
    scale_up_fault,
    scheduling_fault,
)

PodKey = tuple[str, str]


def is_plugin_pod(pod: dict[str, Any]) -> bool:
    """Whether a Pod object is an NVIDIA device plugin pod: by its name, or by a container's image."""
    metadata = pod.get("metadata")
    if isinstance(metadata, dict) and str(metadata.get("name") or "").startswith(device_plugin.NAME):
        return True
    spec = pod.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list):
        return False
    return any(
        isinstance(c, dict) and device_plugin.is_device_plugin_image(str(c.get("image") or "")) for c in containers
    )


class Tracker:
    """The pods, events, nodes and Job the watches reported, judged one change at a time."""

    def __init__(self, scheduling_grace: float = SCHEDULING_GRACE_SECONDS) -> None:
        self._grace = scheduling_grace
        self._pods: dict[PodKey, tuple[PodView, Role]] = {}
        self._pull_errors: dict[PodKey, str] = {}
        self._no_scale_up: dict[PodKey, EventView] = {}
        self._answered: set[PodKey] = set()
        # Unschedulable pods and when (clock seconds) this wait first saw them so.
        self._pending: dict[PodKey, float] = {}
        self._failed: set[PodKey] = set()
        self._last_failed: PodView | None = None
        # Running totals: the progress line must not walk every pod.
        self._plugin_ready = 0
        self._phases: collections.Counter[tuple[Role, str]] = collections.Counter()
        self.job_done = False
        self.job_seen = False
        self.events_seen = 0

    # --- changes --------------------------------------------------------------

    def pod(self, change: str, pod: dict[str, Any], role: Role, now: float) -> Finding | None:
        """Apply one pod change (ADDED, MODIFIED, DELETED); returns a definitive finding for this pod, if any."""
        try:
            view = PodView.from_api(pod)
        except ValueError:
            return None
        key = (view.namespace, view.name)
        self._forget(key)
        if change == "DELETED":
            self._pending.pop(key, None)
            return None
        self._remember(key, view, role, now)
        return self._judge(key, view, role)

    def event(self, event: dict[str, Any]) -> Finding | None:
        """Apply one Event: pull failures and autoscaler answers are remembered; NotTriggerScaleUp may be final."""
        self.events_seen += 1
        view = EventView.from_api(event)
        if view.object_kind != "Pod" or view.object_name is None:
            return None
        key = (view.namespace, view.object_name)
        if view.reason == PULL_FAILED_EVENT and PULL_FAILED_TEXT in (view.message or ""):
            self._pull_errors[key] = view.message or ""
        elif view.reason == SCALE_UP_TRIGGERED:
            self._answered.add(key)
            self._no_scale_up.pop(key, None)
        elif view.reason == NO_SCALE_UP:
            self._answered.add(key)
            self._no_scale_up[key] = view
        else:
            return None
        known = self._pods.get(key)
        return self._judge(key, *known) if known else None

    def node(self, node: dict[str, Any]) -> Diagnosis | None:
        """A GPU node's problem condition, if one is True."""
        return node_condition_fault(node)

    def job(self, job: dict[str, Any]) -> Finding | None:
        """Apply the Job's latest state: records completion; returns its failure (with its last failed pod's log)."""
        self.job_seen = True
        self.job_done = job_complete(job)
        failed = job_fault(job)
        last = self._last_failed
        if failed is None:
            return None
        if last is None or not last.containers:
            # The Job's watch can be ahead of its pods' watch: the pods are read when it is final.
            metadata = job.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
            return JobPodsNeeded(str(namespace), str(name), failed) if name and namespace else failed
        return LogNeeded(last.namespace, last.name, last.containers[0].name, False, failed)

    def due(self, now: float) -> Diagnosis | None:
        """Scheduling refusals that have lasted past their grace; walks only the unschedulable pods."""
        for key, since in self._pending.items():
            view, role = self._pods[key]
            if role == "workload":
                found = scheduling_fault(view, now - since, key in self._answered, self._grace)
                if found is not None:
                    return found
        return None

    # --- progress -----------------------------------------------------------------

    def summary(self) -> str:
        """What the pods do now, from the running totals: '2/2 device plugin pods ready; workload pods: 1 Running'."""
        parts = []
        plugin_pods = self._phases_total("device-plugin")
        if plugin_pods:
            parts.append(f"{self._plugin_ready}/{plugin_pods} device plugin pod(s) ready")
        workload = ", ".join(
            f"{n} {phase}" for (role, phase), n in sorted(self._phases.items()) if role == "workload" and n > 0
        )
        if workload:
            parts.append(f"workload pods: {workload}")
        return "; ".join(parts)

    def _phases_total(self, role: Role) -> int:
        # A handful of (role, phase) keys, whatever the number of pods.
        return sum(n for (owner, _), n in self._phases.items() if owner == role)

    # --- internals ------------------------------------------------------------------

    def _remember(self, key: PodKey, view: PodView, role: Role, now: float) -> None:
        self._pods[key] = (view, role)
        self._phases[(role, view.phase or "Unknown")] += 1
        if role == "device-plugin" and view.ready_containers:
            self._plugin_ready += 1
        if view.unschedulable:
            self._pending.setdefault(key, now)
        else:
            self._pending.pop(key, None)
            self._no_scale_up.pop(key, None)
        if role == "workload" and view.phase == "Failed":
            self._failed.add(key)
            self._last_failed = view

    def _forget(self, key: PodKey) -> None:
        old = self._pods.pop(key, None)
        if old is None:
            return
        view, role = old
        self._phases[(role, view.phase or "Unknown")] -= 1
        if role == "device-plugin" and view.ready_containers:
            self._plugin_ready -= 1

    def _judge(self, key: PodKey, view: PodView, role: Role) -> Finding | None:
        found = container_fault(view, role, self._pull_errors.get(key))
        if found is not None:
            return found
        if role == "workload" and view.phase == "Failed":
            found = failed_pod_fault(view, len(self._failed))
            if found is not None:
                return found
        event = self._no_scale_up.get(key)
        if event is not None and view.unschedulable and role == "workload":
            return scale_up_fault(event)
        return None
