"""The seed's sample GPU workload as a Kubernetes Job that Pulumi waits for."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import manifests
from components.verification import SampleJobResult

# A first pull of the multi-gigabyte TensorFlow image plus, on an autoscaled
# pool, a GPU node scaling up from zero, fits well inside this.
JOB_TIMEOUT_SECONDS = 1800


@dataclasses.dataclass
class SampleJobArgs:
    provider: k8s.Provider
    # Read by the job-result check after the Job completed.
    kubeconfig: pulumi.Input[str]
    namespace: str
    image: str
    args: Sequence[str]
    pool_name: str
    pool_taints: Sequence[str]
    # Whatever must exist before a GPU can be requested: the namespace, the pool,
    # the plugin and, when on, the verification.
    depends_on: Sequence[pulumi.Resource]


class SampleGpuJob(pulumi.ComponentResource):
    """Runs one GPU job to completion; `pulumi up` fails if it does not complete."""

    job_name: pulumi.Output[str]
    job: k8s.batch.v1.Job
    result: pulumi.Output[dict]

    def __init__(self, name: str, args: SampleJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:SampleGpuJob", name, None, opts)
        job = manifests.sample_job(
            namespace_name=args.namespace,
            image=args.image,
            args=args.args,
            pool_name=args.pool_name,
            pool_taints=args.pool_taints,
            timeout_seconds=JOB_TIMEOUT_SECONDS,
        )
        self.job = k8s.batch.v1.Job(
            manifests.SAMPLE_JOB_NAME,
            metadata=job["metadata"],
            spec=job["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on)),
        )
        self.job_name = self.job.metadata.name
        # pulumi-kubernetes returns once the Job completed; this reads what it printed.
        result = SampleJobResult(
            "sample-job-result",
            {
                "kubeconfig": pulumi.Output.secret(args.kubeconfig),
                "namespace": args.namespace,
                "jobName": self.job_name,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.job], additional_secret_outputs=["kubeconfig"]),
        )
        self.result = result.result
        self.register_outputs({"jobName": self.job_name, "result": self.result})
