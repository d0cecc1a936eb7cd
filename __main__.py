"""aks-gpu: a GPU-enabled AKS cluster that proves its GPUs work.

Reads the validated settings, composes one component per concern, exports what it built.
"""

import pulumi

from components import catalog
from components.cluster import GpuCluster, GpuClusterArgs
from components.device_plugin import DevicePluginArgs, NvidiaDevicePlugin
from components.sample_job import SampleGpuJob, SampleJobArgs
from components.settings import read_settings
from components.verification import GpuVerification, GpuVerificationArgs

settings = read_settings()

cluster = GpuCluster("aks-gpu", GpuClusterArgs(settings=settings))

plugin = NvidiaDevicePlugin(
    "nvidia-device-plugin",
    DevicePluginArgs(
        provider=cluster.provider,
        namespace=settings.namespace,
        image=settings.device_plugin_image,
        pool_name=settings.gpu_pool_name,
        pool_taints=settings.pool_taints,
        install_daemonset=settings.installs_device_plugin,
        gpu_pool=cluster.gpu_pool,
    ),
)

verification = None
if settings.verify_gpus:
    verification = GpuVerification(
        "gpu-verification",
        GpuVerificationArgs(
            kubeconfig=cluster.kubeconfig,
            expected_gpus=settings.verification_expected_gpus,
            timeout_seconds=settings.verify_timeout_seconds,
            selector=f"{catalog.AGENT_POOL_LABEL}={settings.gpu_pool_name}",
            triggers={
                "gpuPoolId": cluster.gpu_pool.id,
                "gpuVmSize": settings.gpu_vm_size,
                "gpuStack": settings.gpu_stack,
                "devicePluginImage": settings.device_plugin_image if settings.installs_device_plugin else "",
            },
            depends_on=[cluster.gpu_pool, plugin],
        ),
    )

sample = None
if settings.sample_job:
    # A pool that scales from zero gets its first node because this job asks for a
    # GPU, so there the job cannot wait for verification (see settings.py).
    gate = [verification] if verification and not settings.scales_from_zero else []
    sample = SampleGpuJob(
        "sample-gpu-job",
        SampleJobArgs(
            provider=cluster.provider,
            kubeconfig=cluster.kubeconfig,
            namespace=settings.namespace,
            image=settings.sample_job_image,
            args=settings.sample_job_args,
            pool_name=settings.gpu_pool_name,
            pool_taints=settings.pool_taints,
            depends_on=[cluster.gpu_pool, plugin, *gate],
        ),
    )

pulumi.export("resourceGroupName", cluster.resource_group_name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("gpuPoolName", cluster.gpu_pool_name)
pulumi.export("gpuVmSize", settings.gpu_vm_size)
pulumi.export("gpuStack", settings.gpu_stack)
pulumi.export("expectedGpus", settings.expected_gpus)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("verifiedGpus", verification.verified_gpus if verification else None)
pulumi.export("gpuNodes", verification.gpu_nodes if verification else None)
pulumi.export("sampleJobName", sample.job_name if sample else None)
pulumi.export("sampleJobResult", sample.result if sample else None)
