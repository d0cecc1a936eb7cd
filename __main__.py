"""aks-gpu: a GPU-enabled AKS cluster that proves its GPUs work.

Reads the validated settings, composes one component per concern, exports what it built.
"""

import pulumi

from aks_gpu.components.device_plugin import DevicePluginArgs, NvidiaDevicePlugin
from aks_gpu.components.gpu_acceptance import GpuAcceptance, GpuAcceptanceArgs
from aks_gpu.components.gpu_cluster import GpuCluster, GpuClusterArgs
from aks_gpu.components.gpu_verification import GpuVerification, GpuVerificationArgs
from aks_gpu.components.preflight import run_preflight
from aks_gpu.components.sample_job import SampleGpuJob, SampleJobArgs
from aks_gpu.config.settings import read_settings
from aks_gpu.facts.kubernetes import AGENT_POOL_LABEL

settings = read_settings()
run_preflight(settings)
pool, workloads = settings.gpu_pool, settings.workloads

cluster = GpuCluster("aks-gpu", GpuClusterArgs(cluster=settings.cluster, gpu_pool=pool, access=settings.access))

plugin = NvidiaDevicePlugin(
    "nvidia-device-plugin",
    DevicePluginArgs(
        provider=cluster.provider,
        namespace=workloads.namespace,
        image=workloads.device_plugin_image,
        pool_name=pool.name,
        pool_taints=pool.node_taints,
        install_daemonset=pool.installs_device_plugin,
        mig_strategy=pool.mig_strategy,
    ),
)

verification = None
if settings.verification.enabled:
    verification = GpuVerification(
        "gpu-verification",
        GpuVerificationArgs(
            kubeconfig=cluster.kubeconfig,
            expected_gpus=settings.verification_expected_gpus,
            timeout_seconds=settings.verification.timeout_seconds,
            selector=f"{AGENT_POOL_LABEL}={pool.name}",
            resource=pool.gpu_resource,
            triggers={
                "gpuPoolId": cluster.gpu_pool.id,
                "gpuVmSize": pool.vm_size,
                "gpuStack": pool.gpu_stack,
                "gpuMigProfile": pool.mig_profile or "",
                "gpuMigStrategy": pool.mig_strategy or "",
                "devicePluginImage": workloads.device_plugin_image if pool.installs_device_plugin else "",
            },
            depends_on=[cluster.gpu_pool, plugin],
        ),
    )

# A pool that scales from zero gets its first node because the sample workload asks
# for a GPU, so there it cannot wait for verification (see Settings.verification_expected_gpus).
gate = [verification] if verification and not pool.scales_from_zero else []
ready_for_gpus = [cluster.gpu_pool, plugin, *gate]

acceptance = None
if workloads.runs_acceptance:
    acceptance = GpuAcceptance(
        "gpu-acceptance",
        GpuAcceptanceArgs(
            provider=cluster.provider,
            kubeconfig=cluster.kubeconfig,
            namespace=workloads.namespace,
            image=workloads.acceptance_image,
            pool=pool,
            min_fraction=workloads.acceptance_min_fraction,
            depends_on=ready_for_gpus,
        ),
    )

sample = None
if workloads.runs_mnist:
    sample = SampleGpuJob(
        "sample-gpu-job",
        SampleJobArgs(
            provider=cluster.provider,
            kubeconfig=cluster.kubeconfig,
            namespace=workloads.namespace,
            image=workloads.sample_job_image,
            args=workloads.sample_job_args,
            pool_name=pool.name,
            pool_taints=pool.node_taints,
            gpu_resource=pool.gpu_resource,
            depends_on=ready_for_gpus,
        ),
    )

pulumi.export("resourceGroupName", cluster.resource_group_name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("gpuPoolName", cluster.gpu_pool_name)
pulumi.export("gpuVmSize", pool.vm_size)
pulumi.export("gpuStack", pool.gpu_stack)
pulumi.export("expectedGpus", pool.expected_gpus)
pulumi.export("gpuResource", pool.gpu_resource)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("verifiedGpus", verification.verified_gpus if verification else None)
pulumi.export("gpuNodes", verification.gpu_nodes if verification else None)
pulumi.export("gpuAcceptance", acceptance.result if acceptance else None)
pulumi.export("sampleJobName", sample.job_name if sample else None)
pulumi.export("sampleJobResult", sample.result if sample else None)
