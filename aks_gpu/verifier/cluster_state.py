"""Pods, events and node conditions as the diagnosis reads them: typed views of the API's JSON.

Each view is built from one object as the API server sends it (JSON, not a
client model) and never raises on a malformed field: a field of the wrong
type reads as absent. Only what the rules in `diagnosis` use is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The cluster's own words are quoted, but a screenful is enough.
QUOTE_LIMIT = 400


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value[:QUOTE_LIMIT] if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class ContainerView:
    """One container's status: why it waits, how often it restarted, how it last ended."""

    name: str
    restarts: int
    waiting_reason: str | None
    waiting_message: str | None
    terminated_reason: str | None
    terminated_exit: int | None
    last_reason: str | None
    last_exit: int | None

    @classmethod
    def from_api(cls, status: dict[str, Any]) -> ContainerView:
        """From one entry of a pod's status.containerStatuses."""
        state = _mapping(status.get("state"))
        waiting = _mapping(state.get("waiting"))
        terminated = _mapping(state.get("terminated"))
        last = _mapping(_mapping(status.get("lastState")).get("terminated"))
        return cls(
            name=_text(status.get("name")) or "?",
            restarts=_int(status.get("restartCount")),
            waiting_reason=_text(waiting.get("reason")),
            waiting_message=_text(waiting.get("message")),
            terminated_reason=_text(terminated.get("reason")),
            terminated_exit=_int(terminated.get("exitCode")) if terminated else None,
            last_reason=_text(last.get("reason")),
            last_exit=_int(last.get("exitCode")) if last else None,
        )


@dataclass(frozen=True)
class PodView:
    """One pod: where it runs, its phase, its containers and, while the scheduler cannot place it, why."""

    namespace: str
    name: str
    node: str | None
    phase: str | None
    containers: tuple[ContainerView, ...]
    unschedulable: str | None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def subject(self) -> str:
        """How messages name the pod: `pod NS/NAME` and, once placed, its node."""
        where = f" on node {self.node}" if self.node else ""
        return f"pod {self.namespace}/{self.name}{where}"

    @property
    def ready_containers(self) -> bool:
        """Running with every container started and not waiting (the plugin is serving)."""
        return (
            self.phase == "Running"
            and bool(self.containers)
            and all(c.waiting_reason is None and c.terminated_reason is None for c in self.containers)
        )

    @classmethod
    def from_api(cls, pod: dict[str, Any]) -> PodView:
        """From a Pod object; raises ValueError when it has no name."""
        metadata = _mapping(pod.get("metadata"))
        name = _text(metadata.get("name"))
        if name is None:
            raise ValueError("a Pod without metadata.name")
        status = _mapping(pod.get("status"))
        statuses = _items(status.get("initContainerStatuses")) + _items(status.get("containerStatuses"))
        unschedulable = next(
            (
                _text(c.get("message")) or "Unschedulable"
                for c in _items(status.get("conditions"))
                if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable"
            ),
            None,
        )
        labels = _mapping(metadata.get("labels"))
        return cls(
            namespace=_text(metadata.get("namespace")) or "",
            name=name,
            node=_text(_mapping(pod.get("spec")).get("nodeName")),
            phase=_text(status.get("phase")),
            containers=tuple(ContainerView.from_api(s) for s in statuses),
            unschedulable=unschedulable,
            labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        )


@dataclass(frozen=True)
class EventView:
    """One core/v1 Event about an object: who reported it, the reason and the message."""

    namespace: str
    object_kind: str | None
    object_name: str | None
    reason: str | None
    message: str | None
    source: str | None
    count: int

    @classmethod
    def from_api(cls, event: dict[str, Any]) -> EventView:
        """From an Event object (core/v1; events.k8s.io fields `regarding`/`note` are read too)."""
        metadata = _mapping(event.get("metadata"))
        regarding = _mapping(event.get("involvedObject") or event.get("regarding"))
        source = _mapping(event.get("source")).get("component") or event.get("reportingComponent")
        return cls(
            namespace=_text(metadata.get("namespace")) or _text(regarding.get("namespace")) or "",
            object_kind=_text(regarding.get("kind")),
            object_name=_text(regarding.get("name")),
            reason=_text(event.get("reason")),
            message=_text(event.get("message") or event.get("note")),
            source=_text(source),
            count=max(_int(event.get("count")), 1),
        )


@dataclass(frozen=True)
class NodeConditionView:
    """A condition of a node whose status is True, with its reason and message."""

    node: str
    type: str
    reason: str | None
    message: str | None


def true_conditions(node: dict[str, Any]) -> tuple[NodeConditionView, ...]:
    """The conditions of a Node object whose status is True (Ready included), in the order given."""
    name = _text(_mapping(node.get("metadata")).get("name")) or "?"
    return tuple(
        NodeConditionView(name, str(c.get("type")), _text(c.get("reason")), _text(c.get("message")))
        for c in _items(_mapping(node.get("status")).get("conditions"))
        if c.get("status") == "True" and isinstance(c.get("type"), str)
    )
