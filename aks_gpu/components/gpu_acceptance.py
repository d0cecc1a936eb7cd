"""The GPU acceptance test: every GPU of every node at the pool's floor measured at once against healthy references."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aks_gpu.builders import acceptance
from aks_gpu.components.check_inputs import engine_timeouts, row_urn, workload_wait
from aks_gpu.components.checks import GpuAcceptanceResult
from aks_gpu.components.gpu_pool import GpuPool
from aks_gpu.components.naming import ACCEPTANCE_TYPE, child_options


@dataclasses.dataclass
class GpuAcceptanceArgs:
    """Inputs of `GpuAcceptance`.

    Attributes:
        pool: the GPU pool (name, taints, size, MIG profile, floor; its cluster's provider,
            and the kubeconfig the result check reads the Job's logs with).
        namespace: namespace of the ConfigMap and the Job.
        image: the CUDA PyTorch image the script runs in.
        min_fraction: share of the datasheet rates each GPU must reach where its model has no reference.
        references: the stack's own healthy figures (acceptanceReferences), check -> value per device.
        depends_on: what must exist before GPUs can be requested (namespace, pool, plugin, verification).
    """

    pool: GpuPool
    namespace: str
    image: str
    min_fraction: float
    depends_on: Sequence[pulumi.Resource]
    references: Mapping[str, float] = dataclasses.field(default_factory=dict)


class GpuAcceptance(pulumi.ComponentResource):
    """Runs the acceptance test as an Indexed Job; `pulumi up` fails naming any GPU that falls short.

    Outputs: `job_name`, `result` ({"passed", "nodes": [{"node", "gpus": [...]}], "table"}) and `summary`,
    the result's per-node, per-GPU Markdown table.
    """

    job_name: pulumi.Output[str]
    result: pulumi.Output[dict[str, Any]]
    summary: pulumi.Output[str]

    def __init__(self, name: str, args: GpuAcceptanceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(ACCEPTANCE_TYPE, name, None, opts)
        files = acceptance.acceptance_files()
        config_map = acceptance.script_config_map(args.namespace, files)
        scripts = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=config_map["metadata"],
            data=config_map["data"],
            opts=child_options(self, provider=args.pool.provider, depends_on=list(args.depends_on)),
        )
        job = scripts.metadata.name.apply(
            lambda config_map_name: acceptance.acceptance_job(
                namespace_name=args.namespace,
                config_map_name=config_map_name,
                image=args.image,
                pool=args.pool.settings,
                expected=acceptance.expectation(args.pool.settings, args.min_fraction, args.references),
                script_digest=acceptance.script_digest(files),
            )
        )
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=job["metadata"],
            spec=job["spec"],
            opts=child_options(self, provider=args.pool.provider, depends_on=[scripts, *args.depends_on]),
        )
        self.job_name = self.job.metadata.name
        # pulumi-kubernetes does not wait for the Job (skipAwait): this waits, diagnosing, then reads the verdicts.
        pool = args.pool.settings
        wait = acceptance.JOB_TIMEOUT_SECONDS
        result = GpuAcceptanceResult(
            f"{name}-result",
            args.pool.kubeconfig,
            workload_wait(
                args.namespace,
                self.job_name,
                wait,
                pool.installs_device_plugin,
                args.pool.node_selector,
                row_urn(self, f"{name}-result"),
            ),
            opts=child_options(
                self,
                depends_on=[self.job],
                additional_secret_outputs=["kubeconfig"],
                custom_timeouts=engine_timeouts(wait),
            ),
        )
        self.result = result.result
        self.summary = self.result.apply(lambda found: str((found or {}).get("table") or ""))
        self.register_outputs({"jobName": self.job_name, "result": self.result, "summary": self.summary})
