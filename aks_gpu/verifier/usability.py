"""Whether a pod can use a node's GPUs: the node is Ready, schedulable and free of the lifecycle taints.

The scheduler keeps pods off a node whose Ready condition is not True through
the taints the node lifecycle controller adds for each condition; a cordoned
node (`spec.unschedulable`) takes no new pods at all. A GPU such a node
advertises is allocatable on paper only: the sample Job would sit Pending.

Sources: Kubernetes "Taints and Tolerations" (taint nodes by condition, the
built-in taints) and "Nodes" (node conditions, cordon).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aks_gpu.facts.kubernetes import HARD_TAINT_EFFECTS

# The taints Kubernetes itself puts on nodes for a condition or a lifecycle
# state. Workloads do not tolerate them (DaemonSets get some tolerations
# automatically, the sample Job does not), so each one keeps GPU pods away.
LIFECYCLE_TAINTS = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/unschedulable",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/network-unavailable",
        "node.kubernetes.io/out-of-service",
        "node.cloudprovider.kubernetes.io/uninitialized",
        "node.cloudprovider.kubernetes.io/shutdown",
    }
)


@dataclass(frozen=True)
class Usability:
    """Whether a node takes GPU pods, and if not, why (one short phrase per reason)."""

    ready: bool
    schedulable: bool
    reasons: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """Ready and schedulable: a pod requesting a GPU can be placed there."""
        return self.ready and self.schedulable


def usability(node: dict[str, Any]) -> Usability:
    """Judge a Node object (API JSON); tolerates missing or malformed fields."""
    status = _mapping(node.get("status"))
    spec = _mapping(node.get("spec"))
    ready, ready_reason = _readiness(status.get("conditions"))
    reasons = [ready_reason] if ready_reason else []
    cordoned = spec.get("unschedulable") is True
    if cordoned:
        reasons.append("cordoned (spec.unschedulable)")
    taints = _lifecycle_taints(spec.get("taints"))
    reasons.extend(f"taint {taint}" for taint in taints)
    return Usability(ready=ready, schedulable=not cordoned and not taints, reasons=tuple(reasons))


def _readiness(conditions: Any) -> tuple[bool, str | None]:
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            status = condition.get("status")
            if status == "True":
                return True, None
            detail = ": ".join(str(part) for part in (condition.get("reason"), condition.get("message")) if part)
            state = "unknown" if status == "Unknown" else "False"
            return False, f"Ready is {state}" + (f" ({detail[:200]})" if detail else "")
    return False, "no Ready condition yet"


def _lifecycle_taints(taints: Any) -> list[str]:
    found = []
    for taint in taints if isinstance(taints, list) else ():
        if not isinstance(taint, dict):
            continue
        key, effect = taint.get("key"), taint.get("effect")
        if key in LIFECYCLE_TAINTS and effect in HARD_TAINT_EFFECTS:
            found.append(f"{key}:{effect}")
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
