"""aks-gpu: a GPU-enabled AKS cluster that proves its GPUs work.

Reads the validated settings, composes one component per concern, exports what it built.
"""

import pulumi

from aks_gpu.components.device_plugin import DevicePluginArgs, NvidiaDevicePlugin
from aks_gpu.components.gpu_acceptance import GpuAcceptance, GpuAcceptanceArgs
from aks_gpu.components.gpu_cluster import GpuCluster, GpuClusterArgs
from aks_gpu.components.gpu_verification import GpuVerification, GpuVerificationArgs
from aks_gpu.components.naming import CLUSTER_COMPONENT
from aks_gpu.components.preflight import run_preflight
from aks_gpu.components.sample_job import SampleGpuJob, SampleJobArgs
from aks_gpu.config.settings import read_settings

settings = read_settings()
run_preflight(settings)
workloads = settings.workloads

cluster = GpuCluster(
    CLUSTER_COMPONENT, GpuClusterArgs(cluster=settings.cluster, gpu_pool=settings.gpu_pool, access=settings.access)
)
pool = cluster.pool

plugin = NvidiaDevicePlugin(
    "nvidia-device-plugin",
    DevicePluginArgs(pool=pool, namespace=workloads.namespace, image=workloads.device_plugin_image),
)

verification = None
if settings.verification.enabled:
    verification = GpuVerification(
        "gpu-verification",
        GpuVerificationArgs(
            pool=pool,
            plugin=plugin,
            expected_gpus=settings.verification_expected_gpus,
            timeout_seconds=settings.verification.timeout_seconds,
        ),
    )

ready_for_gpus = pool.ready_for_gpus(plugin, verification)

acceptance = None
if workloads.runs_acceptance:
    acceptance = GpuAcceptance(
        "gpu-acceptance",
        GpuAcceptanceArgs(
            pool=pool,
            namespace=workloads.namespace,
            image=workloads.acceptance_image,
            min_fraction=workloads.acceptance_min_fraction,
            depends_on=ready_for_gpus,
            references=workloads.acceptance_references,
        ),
    )

sample = None
if workloads.runs_mnist:
    sample = SampleGpuJob(
        "sample-gpu-job",
        SampleJobArgs(
            pool=pool,
            namespace=workloads.namespace,
            image=workloads.sample_job_image,
            args=workloads.sample_job_args,
            depends_on=ready_for_gpus,
        ),
    )

pulumi.export("resourceGroupName", cluster.resource_group_name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("gpuPoolName", cluster.gpu_pool_name)
pulumi.export("gpuVmSize", pool.settings.vm_size)
pulumi.export("gpuStack", pool.settings.gpu_stack)
pulumi.export("expectedGpus", pool.settings.expected_gpus)
pulumi.export("gpuResource", pool.settings.gpu_resource)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("verifiedGpus", verification.verified_gpus if verification else None)
pulumi.export("gpuNodes", verification.gpu_nodes if verification else None)
pulumi.export("gpuAcceptance", acceptance.result if acceptance else None)
pulumi.export("gpuAcceptanceSummary", acceptance.summary if acceptance else None)
pulumi.export("sampleJobName", sample.job_name if sample else None)
pulumi.export("sampleJobResult", sample.result if sample else None)
