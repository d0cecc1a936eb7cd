"""The seed's sample GPU workload as a Kubernetes Job that Pulumi waits for."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aks_gpu.builders.sample_job import sample_job
from aks_gpu.components.check_inputs import engine_timeouts, row_urn, workload_wait
from aks_gpu.components.checks import SampleJobResult
from aks_gpu.components.gpu_pool import GpuPool
from aks_gpu.components.naming import SAMPLE_JOB_TYPE, child_options

# A first pull of the multi-gigabyte TensorFlow image plus, on an autoscaled
# pool, a GPU node scaling up from zero, fits well inside this.
JOB_TIMEOUT_SECONDS = 1800


@dataclasses.dataclass
class SampleJobArgs:
    """Inputs of `SampleGpuJob`.

    Attributes:
        pool: the GPU pool the Job runs on: its nodes are selected, its taints tolerated,
            one unit of its extended resource (nvidia.com/gpu or a MIG slice) requested; its
            kubeconfig lets the result check read the Job's log.
        namespace: namespace of the Job.
        image: the Job's container image.
        args: the container's arguments.
        depends_on: whatever must exist before a GPU can be requested (`GpuPool.ready_for_gpus`).
    """

    pool: GpuPool
    namespace: str
    image: str
    args: Sequence[str]
    depends_on: Sequence[pulumi.Resource]


class SampleGpuJob(pulumi.ComponentResource):
    """Runs one GPU job to completion; `pulumi up` fails if it does not complete."""

    job_name: pulumi.Output[str]
    job: k8s.batch.v1.Job
    result: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: SampleJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(SAMPLE_JOB_TYPE, name, None, opts)
        pool = args.pool.settings
        job = sample_job(
            namespace_name=args.namespace,
            image=args.image,
            args=args.args,
            pool_name=pool.name,
            pool_taints=pool.node_taints,
            timeout_seconds=JOB_TIMEOUT_SECONDS,
            gpu_resource=pool.gpu_resource,
        )
        self.job = k8s.batch.v1.Job(
            f"{name}-mnist",
            metadata=job["metadata"],
            spec=job["spec"],
            opts=child_options(
                self, "samples-tf-mnist-demo", provider=args.pool.provider, depends_on=list(args.depends_on)
            ),
        )
        self.job_name = self.job.metadata.name
        # pulumi-kubernetes does not wait for the Job (skipAwait): this waits, diagnosing, then reads its log.
        result = SampleJobResult(
            f"{name}-result",
            args.pool.kubeconfig,
            workload_wait(
                args.namespace,
                self.job_name,
                JOB_TIMEOUT_SECONDS,
                pool.installs_device_plugin,
                args.pool.node_selector,
                row_urn(self, f"{name}-result"),
            ),
            opts=child_options(
                self,
                "sample-job-result",
                depends_on=[self.job],
                additional_secret_outputs=["kubeconfig"],
                custom_timeouts=engine_timeouts(JOB_TIMEOUT_SECONDS),
            ),
        )
        self.result = result.result
        self.register_outputs({"jobName": self.job_name, "result": self.result})
