"""The seed's sample GPU workload as a Kubernetes Job that Pulumi waits for."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aks_gpu.builders.sample_job import sample_job
from aks_gpu.components.checks import SampleJobResult
from aks_gpu.components.naming import child_options
from aks_gpu.facts.kubernetes import Taint

# A first pull of the multi-gigabyte TensorFlow image plus, on an autoscaled
# pool, a GPU node scaling up from zero, fits well inside this.
JOB_TIMEOUT_SECONDS = 1800


@dataclasses.dataclass
class SampleJobArgs:
    """Inputs of `SampleGpuJob`.

    Attributes:
        provider: the Kubernetes provider of the cluster.
        kubeconfig: read by the job-result check after the Job completed (a secret).
        namespace: namespace of the Job.
        image: the Job's container image.
        args: the container's arguments.
        pool_name: agent pool the Job runs on.
        pool_taints: taints of that pool, all tolerated.
        gpu_resource: the extended resource the pool advertises (nvidia.com/gpu or a MIG slice).
        depends_on: whatever must exist before a GPU can be requested: the
            namespace, the pool, the plugin and, when on, the verification.
    """

    provider: k8s.Provider
    kubeconfig: pulumi.Input[str]
    namespace: str
    image: str
    args: Sequence[str]
    pool_name: str
    pool_taints: Sequence[Taint]
    gpu_resource: str
    depends_on: Sequence[pulumi.Resource]


class SampleGpuJob(pulumi.ComponentResource):
    """Runs one GPU job to completion; `pulumi up` fails if it does not complete."""

    job_name: pulumi.Output[str]
    job: k8s.batch.v1.Job
    result: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: SampleJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:SampleGpuJob", name, None, opts)
        job = sample_job(
            namespace_name=args.namespace,
            image=args.image,
            args=args.args,
            pool_name=args.pool_name,
            pool_taints=args.pool_taints,
            timeout_seconds=JOB_TIMEOUT_SECONDS,
            gpu_resource=args.gpu_resource,
        )
        self.job = k8s.batch.v1.Job(
            f"{name}-mnist",
            metadata=job["metadata"],
            spec=job["spec"],
            opts=child_options(self, "samples-tf-mnist-demo", provider=args.provider, depends_on=list(args.depends_on)),
        )
        self.job_name = self.job.metadata.name
        # pulumi-kubernetes returns once the Job completed; this reads what it printed.
        result = SampleJobResult(
            f"{name}-result",
            {
                "kubeconfig": pulumi.Output.secret(args.kubeconfig),
                "namespace": args.namespace,
                "jobName": self.job_name,
            },
            opts=child_options(
                self, "sample-job-result", depends_on=[self.job], additional_secret_outputs=["kubeconfig"]
            ),
        )
        self.result = result.result
        self.register_outputs({"jobName": self.job_name, "result": self.result})
