"""aks-gpu: a GPU-enabled AKS cluster that proves its GPUs work.

Reads the validated settings, composes one component per concern, exports what it built.
"""

import pulumi

from components.cluster import GpuCluster, GpuClusterArgs
from components.device_plugin import DevicePluginArgs, NvidiaDevicePlugin
from components.sample_job import SampleGpuJob, SampleJobArgs
from components.settings import read_settings

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

sample = None
if settings.sample_job:
    sample = SampleGpuJob(
        "sample-gpu-job",
        SampleJobArgs(
            provider=cluster.provider,
            namespace=settings.namespace,
            image=settings.sample_job_image,
            args=settings.sample_job_args,
            pool_name=settings.gpu_pool_name,
            pool_taints=settings.pool_taints,
            depends_on=[cluster.gpu_pool, plugin],
        ),
    )

pulumi.export("resourceGroupName", cluster.resource_group_name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("gpuPoolName", cluster.gpu_pool_name)
pulumi.export("gpuVmSize", settings.gpu_vm_size)
pulumi.export("gpuStack", settings.gpu_stack)
pulumi.export("expectedGpus", settings.expected_gpus)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("sampleJobName", sample.job_name if sample else None)
