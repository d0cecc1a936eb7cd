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

from aks_gpu.facts.device_plugin import MANAGED_NAMESPACE
from aks_gpu.facts.kubernetes import GPU_RESOURCE

CAPACITY_OUTPUTS = ("verifiedGpus", "gpuNodes")
# How long and where a check watches: changing them never re-runs a check, and a
# first-release state has none of them (the defaults below then apply).
WAIT_SETTINGS = ("pluginNamespace", "waitSeconds", "nodeSelector")
JOB_OUTPUTS = ("result",)
ACCESS_OUTPUTS = ("reviews",)
# The engine's margin beyond a check's own deadline before it gives up on the step (seconds).
ENGINE_MARGIN_SECONDS = 120


@dataclasses.dataclass(frozen=True)
class CapacityCheckInputs:
    """What `GpuCapacityCheck` waits for.

    Attributes:
        expected_gpus: allocatable units of `gpu_resource` to wait for (0 records what is there).
        timeout_seconds: how long the check waits (seconds).
        selector: label selector of the nodes whose devices count (the GPU agent pool's).
        gpu_resource: the extended resource counted: nvidia.com/gpu or nvidia.com/mig-<slice>.
        plugin_namespace: where the device plugin's pods run, watched for a diagnosis (the stack's
            namespace, or kube-system for the AKS-managed plugin); None watches no plugin pods.
    """

    expected_gpus: int
    timeout_seconds: int
    selector: str
    gpu_resource: str = GPU_RESOURCE
    plugin_namespace: str | None = None

    def to_props(self) -> dict[str, Any]:
        """The inputs under their Pulumi names."""
        return {
            "expectedGpus": self.expected_gpus,
            "timeoutSeconds": self.timeout_seconds,
            "selector": self.selector,
            "gpuResource": self.gpu_resource,
            "pluginNamespace": self.plugin_namespace,
        }

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> CapacityCheckInputs:
        """The inputs as the provider receives them (a first-release state has no `gpuResource`)."""
        return cls(
            expected_gpus=int(props["expectedGpus"]),
            timeout_seconds=int(props["timeoutSeconds"]),
            selector=str(props["selector"]),
            gpu_resource=str(props.get("gpuResource") or GPU_RESOURCE),
            plugin_namespace=str(props["pluginNamespace"]) if props.get("pluginNamespace") else None,
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
    """Which Job a result check waits for and reads, and how it waits.

    Attributes:
        namespace: the Job's namespace.
        job_name: the Job's name.
        wait_seconds: how long the check waits for the Job to complete, diagnosing on the way
            (0: read at once, as the first release did after pulumi-kubernetes had waited).
        plugin_namespace: where the device plugin's pods run (watched too), or None.
        node_selector: label selector of the GPU nodes, whose conditions are watched, or None.
    """

    namespace: str
    job_name: pulumi.Input[str]
    wait_seconds: int = 0
    plugin_namespace: str | None = None
    node_selector: str | None = None

    def to_props(self) -> dict[str, Any]:
        """The inputs under their Pulumi names."""
        return {
            "namespace": self.namespace,
            "jobName": self.job_name,
            "waitSeconds": self.wait_seconds,
            "pluginNamespace": self.plugin_namespace,
            "nodeSelector": self.node_selector,
        }

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> JobCheckInputs:
        """The inputs as the provider receives them (a first-release state has only namespace and jobName)."""
        return cls(
            namespace=str(props["namespace"]),
            job_name=str(props["jobName"]),
            wait_seconds=int(props.get("waitSeconds") or 0),
            plugin_namespace=str(props["pluginNamespace"]) if props.get("pluginNamespace") else None,
            node_selector=str(props["nodeSelector"]) if props.get("nodeSelector") else None,
        )


def workload_wait(
    namespace: str, job_name: pulumi.Input[str], wait_seconds: int, installs_device_plugin: bool, node_selector: str
) -> JobCheckInputs:
    """A result check's inputs that wait `wait_seconds` for the Job, watching the plugin where it runs:
    the stack's namespace, or kube-system where AKS runs the managed GPU stack's plugin."""
    plugin_namespace = namespace if installs_device_plugin else MANAGED_NAMESPACE
    return JobCheckInputs(namespace, job_name, wait_seconds, plugin_namespace, node_selector)


def engine_timeouts(wait_seconds: int) -> pulumi.CustomTimeouts:
    """The engine's limits for a check that waits `wait_seconds`: the wait plus a margin for reading the result."""
    limit = f"{wait_seconds + ENGINE_MARGIN_SECONDS}s"
    return pulumi.CustomTimeouts(create=limit, update=limit)


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
