"""What GPU nodes advertise to the scheduler, as the verifier reports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes.utils import parse_quantity

from aks_gpu.facts.kubernetes import GPU_RESOURCE, INSTANCE_TYPE_LABEL

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"


@dataclass(frozen=True)
class GpuNode:
    """What one GPU node advertises to the scheduler."""

    name: str
    capacity: int
    allocatable: int
    gpu_product: str | None
    vm_size: str | None

    @classmethod
    def from_api(cls, node: dict[str, Any]) -> GpuNode:
        """Build from a Node object as the API returns it (JSON, not a model)."""
        metadata = node.get("metadata") or {}
        labels = metadata.get("labels") or {}
        status = node.get("status") or {}
        return cls(
            name=metadata["name"],
            capacity=_gpu_count(status.get("capacity")),
            allocatable=_gpu_count(status.get("allocatable")),
            gpu_product=labels.get(GPU_PRODUCT_LABEL),
            vm_size=labels.get(INSTANCE_TYPE_LABEL),
        )

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON-ready data (name, capacity, allocatable, gpuProduct, vmSize)."""
        return {
            "name": self.name,
            "capacity": self.capacity,
            "allocatable": self.allocatable,
            "gpuProduct": self.gpu_product,
            "vmSize": self.vm_size,
        }

    def describe(self) -> str:
        """One line for messages: name, VM size and GPU counts."""
        details = ", ".join(filter(None, (self.vm_size, self.gpu_product)))
        kind = f" ({details})" if details else ""
        return f"{self.name}{kind}: capacity {self.capacity}, allocatable {self.allocatable}"


def _gpu_count(resources: dict[str, str] | None) -> int:
    quantity = (resources or {}).get(GPU_RESOURCE)
    return int(parse_quantity(quantity)) if quantity is not None else 0


@dataclass(frozen=True)
class GpuReport:
    """The GPU nodes seen at one moment, and how many GPUs were expected."""

    expected: int
    nodes: tuple[GpuNode, ...]

    @property
    def verified(self) -> int:
        """Allocatable GPUs summed over the nodes."""
        return sum(node.allocatable for node in self.nodes)

    @property
    def ok(self) -> bool:
        """Whether the verified GPUs reach the expected count."""
        return self.verified >= self.expected

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (expectedGpus, verifiedGpus, nodes)."""
        return {
            "expectedGpus": self.expected,
            "verifiedGpus": self.verified,
            "nodes": [node.to_dict() for node in self.nodes],
        }
