"""Proof during `pulumi up` that the GPU nodes advertise the GPUs the stack expects."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from aks_gpu.components.checks import NOT_A_TRIGGER, GpuCapacityCheck, capacity_check_inputs
from aks_gpu.components.naming import child_options

# The engine's margin beyond the check's own timeout before it gives up on the step.
ENGINE_MARGIN_SECONDS = 120


@dataclasses.dataclass
class GpuVerificationArgs:
    """Inputs of `GpuVerification`.

    Attributes:
        kubeconfig: kubeconfig of the cluster (a secret; never a trigger).
        expected_gpus: allocatable GPUs to wait for (0 records what is there).
        timeout_seconds: how long the check waits.
        selector: label selector of the nodes whose GPUs count (the GPU agent pool).
        resource: the extended resource counted (nvidia.com/gpu, or nvidia.com/mig-<slice>).
        triggers: values whose change re-runs the check (pool id, VM size, plugin image, ...).
        depends_on: what must exist before the check starts (the pool and the plugin).
    """

    kubeconfig: pulumi.Input[str]
    expected_gpus: int
    timeout_seconds: int
    selector: str
    resource: str
    triggers: dict[str, pulumi.Input[Any]]
    depends_on: list[pulumi.Resource]


class GpuVerification(pulumi.ComponentResource):
    """Fails `pulumi up` unless the GPU pool advertises the expected allocatable GPUs.

    Outputs: `verified_gpus` (int) and `gpu_nodes` (one dict per node).
    """

    verified_gpus: pulumi.Output[int]
    gpu_nodes: pulumi.Output[list[dict[str, Any]]]
    check: GpuCapacityCheck

    def __init__(self, name: str, args: GpuVerificationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:GpuVerification", name, None, opts)
        engine_timeout = f"{args.timeout_seconds + ENGINE_MARGIN_SECONDS}s"
        self.check = GpuCapacityCheck(
            f"{name}-capacity",
            capacity_check_inputs(
                kubeconfig=args.kubeconfig,
                expected_gpus=args.expected_gpus,
                timeout_seconds=args.timeout_seconds,
                selector=args.selector,
                resource=args.resource,
                triggers=args.triggers,
            ),
            opts=child_options(
                self,
                "gpu-capacity",
                depends_on=args.depends_on,
                additional_secret_outputs=list(NOT_A_TRIGGER),
                custom_timeouts=pulumi.CustomTimeouts(create=engine_timeout, update=engine_timeout),
            ),
        )
        self.verified_gpus = self.check.verifiedGpus
        self.gpu_nodes = self.check.gpuNodes
        self.register_outputs({"verifiedGpus": self.verified_gpus, "gpuNodes": self.gpu_nodes})
