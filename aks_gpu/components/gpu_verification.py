"""Proof during `pulumi up` that the GPU nodes advertise the GPUs the stack expects."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from aks_gpu.components.check_inputs import CapacityCheckInputs, row_urn
from aks_gpu.components.checks import NOT_A_TRIGGER, GpuCapacityCheck
from aks_gpu.components.device_plugin import NvidiaDevicePlugin
from aks_gpu.components.gpu_pool import GpuPool
from aks_gpu.components.naming import VERIFICATION_TYPE, child_options
from aks_gpu.config.gpu_pool import GpuPoolSettings

# The engine's margin beyond the check's own timeout before it gives up on the step.
ENGINE_MARGIN_SECONDS = 120


@dataclasses.dataclass
class GpuVerificationArgs:
    """Inputs of `GpuVerification`.

    Attributes:
        pool: the GPU pool whose nodes' allocatable devices are counted; its kubeconfig
            (a secret, never a trigger) reaches the cluster, its settings give the
            selector, the resource counted and what re-runs the check.
        plugin: the device plugin component; the check starts after it, and a new plugin
            image re-runs the check.
        expected_gpus: allocatable units of the pool's resource to wait for (0 records what is there).
        timeout_seconds: how long the check waits.
    """

    pool: GpuPool
    plugin: NvidiaDevicePlugin
    expected_gpus: int
    timeout_seconds: int


def capacity_triggers(pool: GpuPoolSettings, pool_id: pulumi.Input[str], plugin_image: str | None) -> dict[str, Any]:
    """Values whose change re-runs the capacity check (names kept from the first release's state)."""
    return {
        "gpuPoolId": pool_id,
        "gpuVmSize": pool.vm_size,
        "gpuStack": pool.gpu_stack,
        "gpuMigProfile": pool.mig_profile or "",
        "gpuMigStrategy": pool.mig_strategy or "",
        "devicePluginImage": plugin_image or "",
    }


class GpuVerification(pulumi.ComponentResource):
    """Fails `pulumi up` unless the GPU pool advertises the expected allocatable GPUs.

    Outputs: `verified_gpus` (int) and `gpu_nodes` (one dict per node).
    """

    verified_gpus: pulumi.Output[int]
    gpu_nodes: pulumi.Output[list[dict[str, Any]]]
    check: GpuCapacityCheck

    def __init__(self, name: str, args: GpuVerificationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(VERIFICATION_TYPE, name, None, opts)
        pool = args.pool.settings
        engine_timeout = f"{args.timeout_seconds + ENGINE_MARGIN_SECONDS}s"
        self.check = GpuCapacityCheck(
            f"{name}-capacity",
            args.pool.kubeconfig,
            CapacityCheckInputs(
                expected_gpus=args.expected_gpus,
                timeout_seconds=args.timeout_seconds,
                selector=args.pool.node_selector,
                gpu_resource=pool.gpu_resource,
                plugin_namespace=args.plugin.pods_namespace,
                log_urn=row_urn(self, f"{name}-capacity"),
            ),
            triggers=capacity_triggers(pool, args.pool.agent_pool.id, args.plugin.image),
            opts=child_options(
                self,
                "gpu-capacity",
                depends_on=[args.pool.agent_pool, args.plugin],
                additional_secret_outputs=list(NOT_A_TRIGGER),
                custom_timeouts=pulumi.CustomTimeouts(create=engine_timeout, update=engine_timeout),
            ),
        )
        self.verified_gpus = self.check.verifiedGpus
        self.gpu_nodes = self.check.gpuNodes
        self.register_outputs({"verifiedGpus": self.verified_gpus, "gpuNodes": self.gpu_nodes})
