"""The GPU namespace and the NVIDIA device plugin DaemonSet."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from aks_gpu.builders import pods
from aks_gpu.builders.device_plugin import device_plugin_daemonset
from aks_gpu.components.gpu_pool import GpuPool
from aks_gpu.components.naming import DEVICE_PLUGIN_TYPE, child_options
from aks_gpu.facts import device_plugin as device_plugin_facts


@dataclasses.dataclass
class DevicePluginArgs:
    """Inputs of `NvidiaDevicePlugin`.

    Attributes:
        pool: the GPU pool whose nodes run the plugin. Its cluster's provider is used;
            its taints (the Spot taint included) are tolerated; its MIG strategy is the
            plugin's. With the AKS-managed GPU stack no DaemonSet is installed: AKS ships
            its own plugin, and a second one is what the seed's warning forbids.
        namespace: namespace to create for the GPU workloads.
        image: the device plugin's container image.
    """

    pool: GpuPool
    namespace: str
    image: str


class NvidiaDevicePlugin(pulumi.ComponentResource):
    """Creates the GPU namespace and, unless AKS manages the GPU stack, the device plugin.

    Outputs: `namespace_name`, `daemonset` and `image` (both None with the managed stack), and
    `pods_namespace`: where the plugin's pods run (kube-system with the managed stack), which the
    checks watch for a diagnosis.
    """

    namespace_name: pulumi.Output[str]
    daemonset: k8s.apps.v1.DaemonSet | None
    image: str | None
    pods_namespace: str

    def __init__(self, name: str, args: DevicePluginArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(DEVICE_PLUGIN_TYPE, name, None, opts)
        pool, provider = args.pool.settings, args.pool.provider
        namespace = pods.namespace(args.namespace)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=namespace["metadata"],
            opts=child_options(self, "gpu-namespace", provider=provider),
        )
        self.namespace_name = ns.metadata.name
        self.pods_namespace = args.namespace if pool.installs_device_plugin else device_plugin_facts.MANAGED_NAMESPACE

        self.daemonset, self.image = None, None
        if pool.installs_device_plugin:
            self.image = args.image
            daemonset = device_plugin_daemonset(
                namespace_name=args.namespace,
                image=args.image,
                pool_name=pool.name,
                pool_taints=pool.node_taints,
                mig_strategy=pool.mig_strategy,
            )
            self.daemonset = k8s.apps.v1.DaemonSet(
                f"{name}-daemonset",
                metadata=daemonset["metadata"],
                spec=daemonset["spec"],
                # Not waiting for the GPU pool keeps the pool's many minutes off this
                # step: the DaemonSet starts a plugin on each GPU node as it joins.
                opts=child_options(self, "nvidia-device-plugin", provider=provider, depends_on=[ns]),
            )
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "daemonSetName": self.daemonset.metadata.name if self.daemonset else None,
            }
        )
