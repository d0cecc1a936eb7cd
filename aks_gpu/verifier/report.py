"""What GPU nodes advertise to the scheduler, and whether pods can use it, as the verifier reports it."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aks_gpu.facts.kubernetes import GPU_RESOURCE, INSTANCE_TYPE_LABEL
from aks_gpu.facts.vm_sizes import find_gpu_vm_size
from aks_gpu.verifier.quantity import parse_count
from aks_gpu.verifier.usability import usability

# Messages name at most this many nodes per list; the JSON report has them all.
MESSAGE_NODE_LIMIT = 20


@dataclass(frozen=True)
class GpuNode:
    """What one GPU node advertises to the scheduler, and whether a pod can use it.

    `gpu_product` is the GPU model the catalog gives for the node's VM size
    (None for a size it does not know): AKS nodes carry no GPU product label
    unless GPU feature discovery runs, and this program does not install it.
    """

    name: str
    capacity: int
    allocatable: int
    gpu_product: str | None
    vm_size: str | None
    ready: bool = True
    schedulable: bool = True
    reasons: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> bool:
        """Ready and schedulable: its allocatable GPUs count."""
        return self.ready and self.schedulable

    @classmethod
    def from_api(cls, node: dict[str, Any], resource: str = GPU_RESOURCE) -> GpuNode:
        """Build from a Node object as the API returns it (JSON, not a model), counting `resource`.

        Raises ValueError when the object has no name; any other malformed
        field reads as absent, and a malformed quantity as 0 with a reason.
        """
        metadata = _mapping(node.get("metadata"))
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a Node without metadata.name")
        labels = _mapping(metadata.get("labels"))
        status = _mapping(node.get("status"))
        judged = usability(node)
        capacity, capacity_problem = _count(status.get("capacity"), resource, "capacity")
        allocatable, allocatable_problem = _count(status.get("allocatable"), resource, "allocatable")
        vm_size = labels.get(INSTANCE_TYPE_LABEL)
        vm_size = vm_size if isinstance(vm_size, str) else None
        return cls(
            name=name,
            capacity=capacity,
            allocatable=allocatable,
            gpu_product=_gpu_model(vm_size) if vm_size else None,
            vm_size=vm_size,
            ready=judged.ready,
            schedulable=judged.schedulable,
            reasons=judged.reasons + tuple(filter(None, (capacity_problem, allocatable_problem))),
        )

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON-ready data.

        Keys: name, capacity, allocatable, gpuProduct, vmSize, ready,
        schedulable and notUsableBecause (empty when the GPUs count).
        """
        return {
            "name": self.name,
            "capacity": self.capacity,
            "allocatable": self.allocatable,
            "gpuProduct": self.gpu_product,
            "vmSize": self.vm_size,
            "ready": self.ready,
            "schedulable": self.schedulable,
            "notUsableBecause": list(self.reasons),
        }

    def describe(self) -> str:
        """One line for messages: name, VM size, GPU counts and, if any, what keeps pods away."""
        details = ", ".join(filter(None, (self.vm_size, self.gpu_product)))
        kind = f" ({details})" if details else ""
        why = f"; {'; '.join(self.reasons)}" if self.reasons else ""
        return f"{self.name}{kind}: capacity {self.capacity}, allocatable {self.allocatable}{why}"


@functools.lru_cache(maxsize=256)
def _gpu_model(vm_size: str) -> str | None:
    # A pool has one VM size: thousands of nodes share a handful of lookups.
    size = find_gpu_vm_size(vm_size)
    return size.gpu_model if size else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(resources: Any, resource: str, field_name: str) -> tuple[int, str | None]:
    quantity = resources.get(resource) if isinstance(resources, dict) else None
    if quantity is None:
        return 0, None
    try:
        value = parse_count(quantity)
    except ValueError:
        return 0, f"{field_name} {resource} is not a quantity: {str(quantity)[:40]!r}"
    return max(value, 0), None


@dataclass(frozen=True)
class GpuReport:
    """The GPU nodes seen at one moment, how many GPUs were expected, and which resource was counted."""

    expected: int
    nodes: tuple[GpuNode, ...]
    resource: str = GPU_RESOURCE

    @property
    def verified(self) -> int:
        """Allocatable GPUs summed over the usable nodes (Ready, schedulable, no lifecycle taint)."""
        return sum(node.allocatable for node in self.nodes if node.usable)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (resource, expectedGpus, verifiedGpus, nodes)."""
        return {
            "resource": self.resource,
            "expectedGpus": self.expected,
            "verifiedGpus": self.verified,
            "nodes": [node.to_dict() for node in self.nodes],
        }


def capped(lines: Iterable[str], limit: int = MESSAGE_NODE_LIMIT, what: str = "node(s)") -> list[str]:
    """The first `limit` lines, then one line counting the rest, so a message stays readable."""
    kept: list[str] = []
    more = 0
    for line in lines:
        if len(kept) < limit:
            kept.append(line)
        else:
            more += 1
    if more:
        kept.append(f"... and {more:,} more {what} (the JSON report lists every node)")
    return kept
