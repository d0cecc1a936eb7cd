"""What each verification check takes and records: typed values on both sides of the engine.

The program builds a check's resource inputs from these (`to_props`); the dynamic
provider, in the engine's provider process, reads them back (`from_props`). The
Pulumi names (camelCase) are the state's and must not change: a renamed property
would re-run every check of a deployed stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pulumi

from aks_gpu.facts.kubernetes import GPU_RESOURCE

CAPACITY_OUTPUTS = ("verifiedGpus", "gpuNodes")
JOB_OUTPUTS = ("result",)
ACCESS_OUTPUTS = ("reviews",)


@dataclasses.dataclass(frozen=True)
class CapacityCheckInputs:
    """What `GpuCapacityCheck` waits for.

    Attributes:
        expected_gpus: allocatable units of `gpu_resource` to wait for (0 records what is there).
        timeout_seconds: how long the check waits (seconds).
        selector: label selector of the nodes whose devices count (the GPU agent pool's).
        gpu_resource: the extended resource counted: nvidia.com/gpu or nvidia.com/mig-<slice>.
    """

    expected_gpus: int
    timeout_seconds: int
    selector: str
    gpu_resource: str = GPU_RESOURCE

    def to_props(self) -> dict[str, Any]:
        """The inputs under their Pulumi names."""
        return {
            "expectedGpus": self.expected_gpus,
            "timeoutSeconds": self.timeout_seconds,
            "selector": self.selector,
            "gpuResource": self.gpu_resource,
        }

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> CapacityCheckInputs:
        """The inputs as the provider receives them (a first-release state has no `gpuResource`)."""
        return cls(
            expected_gpus=int(props["expectedGpus"]),
            timeout_seconds=int(props["timeoutSeconds"]),
            selector=str(props["selector"]),
            gpu_resource=str(props.get("gpuResource") or GPU_RESOURCE),
        )


@dataclasses.dataclass(frozen=True)
class CapacityCheckOutputs:
    """What `GpuCapacityCheck` recorded: `verified_gpus` (units counted) and one dict per node."""

    verified_gpus: int
    gpu_nodes: list[dict[str, Any]]

    def to_outs(self) -> dict[str, Any]:
        """The outputs under their Pulumi names (`CAPACITY_OUTPUTS`)."""
        return dict(zip(CAPACITY_OUTPUTS, (self.verified_gpus, self.gpu_nodes), strict=True))


@dataclasses.dataclass(frozen=True)
class JobCheckInputs:
    """Which completed Job a result check reads: its namespace and name."""

    namespace: str
    job_name: pulumi.Input[str]

    def to_props(self) -> dict[str, Any]:
        """The inputs under their Pulumi names."""
        return {"namespace": self.namespace, "jobName": self.job_name}

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> JobCheckInputs:
        """The inputs as the provider receives them."""
        return cls(namespace=str(props["namespace"]), job_name=str(props["jobName"]))


@dataclasses.dataclass(frozen=True)
class AccessCheckInputs:
    """How long `ClusterAccessCheck` waits for the deploying identity's rights (seconds)."""

    timeout_seconds: int

    def to_props(self) -> dict[str, Any]:
        """The inputs under their Pulumi names."""
        return {"timeoutSeconds": self.timeout_seconds}

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> AccessCheckInputs:
        """The inputs as the provider receives them."""
        return cls(timeout_seconds=int(props["timeoutSeconds"]))
