"""Which of the cluster's words end a wait: the diagnosis rules, pure and typed.

A wait ends early only on a cause that waiting cannot cure, quoted in the
cluster's own words:

- a container that crashed repeatedly (CrashLoopBackOff or Error after
  `CRASH_RESTARTS` restarts; a Job pod that failed `CRASH_RESTARTS` times),
  explained with the last lines of the crashed container's log;
- an image the node cannot pull (ImagePullBackOff, or ErrImagePull whose message
  is a known registry refusal), with the registry's message;
- a container that cannot be created from its spec (CreateContainerConfigError);
- a pod the scheduler cannot place for `SCHEDULING_GRACE_SECONDS` while no cluster
  autoscaler answered for it, with the scheduler's reason;
- the cluster autoscaler's NotTriggerScaleUp for a workload pod, with its reason;
- a GPU node condition of AKS's node problem detector that is True.

What is only slow never ends a wait: a first image pull, ContainerCreating, one
restart, a node still joining (NotReady, the not-ready taint), a pod waiting for
a scale-up the autoscaler has triggered. The signatures live in
`aks_gpu.facts.cluster_faults`; `watch.ClusterWatch` feeds these rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from aks_gpu.facts.cluster_faults import (
    GPU_NODE_CONDITION_STEP,
    GPU_NODE_CONDITIONS,
    LOG_SIGNATURES,
    PULL_SIGNATURES,
    SCHEDULING_SIGNATURES,
    find_signature,
)
from aks_gpu.verifier.cluster_state import ContainerView, EventView, PodView, true_conditions

FaultKind = Literal[
    "crash-loop", "image-pull", "container-config", "unschedulable", "no-scale-up", "node-condition", "job-failed"
]
Role = Literal["device-plugin", "workload"]

# One restart is only slow (a plugin that raced the driver); the second is a pattern.
CRASH_RESTARTS = 2
# The cluster autoscaler scans every 10 s and answers an unschedulable pod with
# TriggeredScaleUp or NotTriggerScaleUp; silence this long means none is acting.
SCHEDULING_GRACE_SECONDS = 45.0
LOG_TAIL_LINES = 8
# Pull failures that are final at once; ErrImagePull alone may be a blip, unless its text is known.
PULL_FINAL = frozenset({"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
CONFIG_FINAL = frozenset({"CreateContainerConfigError"})
# A taint that only says a node is joining or unhealthy: the scheduler's reason is then not final.
NODE_LIFECYCLE_TAINT = "node.kubernetes.io/"
SCALE_UP_TRIGGERED = "TriggeredScaleUp"
# The kubelet's event for a failed pull; its message carries the registry's answer.
PULL_FAILED_EVENT = "Failed"
PULL_FAILED_TEXT = "Failed to pull image"
NO_SCALE_UP = "NotTriggerScaleUp"

_TITLES: dict[FaultKind, str] = {
    "crash-loop": "keeps crashing",
    "image-pull": "cannot pull its image",
    "container-config": "cannot create its container",
    "unschedulable": "cannot be scheduled",
    "no-scale-up": "did not make the cluster autoscaler add a node",
    "node-condition": "reports a GPU problem",
    "job-failed": "failed",
}


@dataclass(frozen=True)
class Diagnosis:
    """A definitive cause: what, on which object, the cluster's words, the known cause and the next step."""

    kind: FaultKind
    subject: str
    quote: str
    cause: str | None = None
    next_step: str | None = None
    log_tail: tuple[str, ...] = ()

    def message(self) -> str:
        """The diagnosis for people, a few lines: object and fault, the quote, the log's last lines, cause, step."""
        lines = [f"Diagnosed: {self.subject} {_TITLES[self.kind]}.", f"The cluster says: {self.quote}"]
        if self.log_tail:
            lines.append("Last lines of the crashed container's log:")
            lines.extend(f"  {line}" for line in self.log_tail)
        if self.cause:
            lines.append(f"Known cause: {self.cause}.")
        if self.next_step:
            lines.append(f"Next step: {self.next_step}.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: kind, subject, quote, cause, nextStep, logTail."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "quote": self.quote,
            "cause": self.cause,
            "nextStep": self.next_step,
            "logTail": list(self.log_tail),
        }


@dataclass(frozen=True)
class LogNeeded:
    """A crash is definitive; its explanation needs the log of `container` (`previous`: the crashed instance)."""

    namespace: str
    pod: str
    container: str
    previous: bool
    diagnosis: Diagnosis


@dataclass(frozen=True)
class EventsNeeded:
    """An image pull is definitive; the registry's words are in the pod's Failed events, not yet seen."""

    namespace: str
    pod: str
    diagnosis: Diagnosis


@dataclass(frozen=True)
class JobPodsNeeded:
    """A Job failed before any of its failed pods was seen: its pods must be read to find the last one's log."""

    namespace: str
    job_name: str
    diagnosis: Diagnosis


Finding = Diagnosis | LogNeeded | EventsNeeded | JobPodsNeeded


def last_failed_pod(pods: list[PodView], diagnosis: Diagnosis) -> LogNeeded | None:
    """The log request for the newest failed pod among `pods` (by name order within one Job), or None."""
    failed = [pod for pod in pods if pod.phase == "Failed" and pod.containers]
    if not failed:
        return None
    last = max(failed, key=lambda pod: pod.name)
    return LogNeeded(last.namespace, last.name, last.containers[0].name, False, diagnosis)


def explain_pull(needed: EventsNeeded, messages: list[str]) -> Diagnosis:
    """The pull's diagnosis with the newest pull failure message among `messages` and its known cause."""
    message = next((m for m in reversed(messages) if PULL_FAILED_TEXT in m), None)
    if message is None:
        step = f"see the registry's answer in `kubectl describe pod -n {needed.namespace} {needed.pod}`"
        return replace(needed.diagnosis, next_step=step)
    known = find_signature(message, PULL_SIGNATURES)
    return replace(
        needed.diagnosis,
        quote=f"{needed.diagnosis.quote}; {message}",
        cause=known.cause if known else None,
        next_step=known.next_step if known else None,
    )


def explain_crash(needed: LogNeeded, log: str) -> Diagnosis:
    """The crash's diagnosis with the last lines of `log` and, for a known signature, its cause and step."""
    lines = [line.rstrip() for line in log.splitlines() if line.strip()]
    tail = tuple(line[:300] for line in lines[-LOG_TAIL_LINES:])
    known = find_signature("\n".join(lines[-200:]), LOG_SIGNATURES)
    if known is None:
        previous = " --previous" if needed.previous else ""
        step = f"read the whole log: `kubectl logs{previous} -n {needed.namespace} {needed.pod} -c {needed.container}`"
        return replace(needed.diagnosis, log_tail=tail, next_step=step)
    return replace(needed.diagnosis, log_tail=tail, cause=known.cause, next_step=known.next_step)


def _who(pod: PodView, role: Role, container: ContainerView) -> str:
    what = "device plugin pod" if role == "device-plugin" else "workload pod"
    return f"{what} {pod.subject.removeprefix('pod ')} (container {container.name})"


def container_fault(pod: PodView, role: Role, pull_error: str | None = None) -> Finding | None:
    """A definitive fault of one of the pod's containers, or None while it is only slow.

    `pull_error` is the latest pull failure the kubelet reported for the pod
    (its Failed event or an ErrImagePull message): ImagePullBackOff itself only
    says "Back-off pulling image".
    """
    for container in pod.containers:
        found = _pull_fault(pod, role, container, pull_error) or _crash_fault(pod, role, container)
        if found is not None:
            return found
    return None


def _pull_fault(pod: PodView, role: Role, container: ContainerView, pull_error: str | None) -> Finding | None:
    reason = container.waiting_reason
    if reason in CONFIG_FINAL:
        return Diagnosis("container-config", _who(pod, role, container), f"{reason}: {container.waiting_message}")
    words = pull_error or container.waiting_message or ""
    known = find_signature(words, PULL_SIGNATURES)
    if reason not in PULL_FINAL and not (reason == "ErrImagePull" and known is not None):
        return None
    diagnosis = Diagnosis(
        "image-pull",
        _who(pod, role, container),
        f"{reason}: {words or 'no message'}",
        known.cause if known else None,
        known.next_step if known else None,
    )
    # ImagePullBackOff's own message is only "Back-off pulling image": the registry's is in an event.
    needs_events = reason == "ImagePullBackOff" and not pull_error
    return EventsNeeded(pod.namespace, pod.name, diagnosis) if needs_events else diagnosis


def _crash_fault(pod: PodView, role: Role, container: ContainerView) -> LogNeeded | None:
    looping = container.waiting_reason == "CrashLoopBackOff"
    failed_again = container.last_exit not in (None, 0) or container.last_reason == "Error"
    if container.restarts < CRASH_RESTARTS or not (looping or failed_again):
        return None
    state = container.waiting_reason or "restarting"
    quote = (
        f"{state}, {container.restarts} restarts, last exit code {container.last_exit} "
        f"({container.last_reason or 'no reason'})"
    )
    diagnosis = Diagnosis("crash-loop", _who(pod, role, container), quote)
    return LogNeeded(pod.namespace, pod.name, container.name, True, diagnosis)


def failed_pod_fault(pod: PodView, failures: int) -> LogNeeded | None:
    """A Job whose pods (restartPolicy Never) failed `CRASH_RESTARTS` times: this failed pod's log explains it."""
    if pod.phase != "Failed" or failures < CRASH_RESTARTS:
        return None
    container = next((c for c in pod.containers if c.terminated_exit not in (None, 0)), None)
    if container is None:
        return None
    quote = (
        f"Failed ({failures} failed pods of the Job), exit code {container.terminated_exit} "
        f"({container.terminated_reason})"
    )
    diagnosis = Diagnosis("crash-loop", _who(pod, "workload", container), quote)
    return LogNeeded(pod.namespace, pod.name, container.name, False, diagnosis)


def job_fault(job: dict[str, Any]) -> Diagnosis | None:
    """A Job whose Failed condition is True (backoff limit or deadline exceeded), with its reason; else None."""
    metadata = _mapping(job.get("metadata"))
    for condition in _conditions(job):
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            words = ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))
            return Diagnosis(
                "job-failed",
                f"Job {metadata.get('namespace')}/{metadata.get('name')}",
                f"condition Failed is True{': ' + words if words else ''}",
            )
    return None


def job_complete(job: dict[str, Any]) -> bool:
    """Whether a Job object's Complete condition is True."""
    return any(c.get("type") == "Complete" and c.get("status") == "True" for c in _conditions(job))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    found = _mapping(obj.get("status")).get("conditions")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def scheduling_fault(
    pod: PodView, pending_for: float, autoscaler_answered: bool, grace: float = SCHEDULING_GRACE_SECONDS
) -> Diagnosis | None:
    """The scheduler's refusal, once it lasted `grace` seconds and no cluster autoscaler answered for the pod.

    A refusal that only names a joining node's taint (node.kubernetes.io/not-ready) is never final.
    """
    reason = pod.unschedulable
    if reason is None or autoscaler_answered or pending_for < grace:
        return None
    if NODE_LIFECYCLE_TAINT in reason:
        return None
    known = find_signature(reason, SCHEDULING_SIGNATURES)
    return Diagnosis(
        "unschedulable",
        f"workload {pod.subject}",
        f"FailedScheduling for {pending_for:.0f}s with no cluster autoscaler answer: {reason}",
        known.cause if known else None,
        known.next_step if known else None,
    )


def scale_up_fault(event: EventView) -> Diagnosis | None:
    """The cluster autoscaler's NotTriggerScaleUp for a pod, with its reason; None for any other event."""
    if event.reason != NO_SCALE_UP or event.object_kind != "Pod":
        return None
    message = event.message or "no reason given"
    known = find_signature(message, SCHEDULING_SIGNATURES)
    return Diagnosis(
        "no-scale-up",
        f"workload pod {event.namespace}/{event.object_name}",
        f"{NO_SCALE_UP} ({event.source or 'cluster-autoscaler'}): {message}",
        known.cause if known else None,
        known.next_step if known else None,
    )


def node_condition_fault(node: dict[str, Any]) -> Diagnosis | None:
    """The first GPU problem condition of a Node object that is True (AKS node problem detector), or None."""
    for condition in true_conditions(node):
        meaning = GPU_NODE_CONDITIONS.get(condition.type)
        if meaning is not None:
            words = ": ".join(filter(None, (condition.reason, condition.message)))
            return Diagnosis(
                "node-condition",
                f"GPU node {condition.node}",
                f"condition {condition.type} is True{': ' + words if words else ''}",
                meaning,
                GPU_NODE_CONDITION_STEP,
            )
    return None
