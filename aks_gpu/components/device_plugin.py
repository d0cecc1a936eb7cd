"""The GPU namespace and the NVIDIA device plugin DaemonSet."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from aks_gpu.builders import pods
from aks_gpu.builders.device_plugin import device_plugin_daemonset
from aks_gpu.components.naming import child_options
from aks_gpu.facts.kubernetes import Taint


@dataclasses.dataclass
class DevicePluginArgs:
    """Inputs of `NvidiaDevicePlugin`.

    Attributes:
        provider: the Kubernetes provider of the cluster.
        namespace: namespace to create for the GPU workloads.
        image: the device plugin's container image.
        pool_name: agent pool whose nodes run the plugin.
        pool_taints: taints of those nodes (the Spot taint included), all tolerated.
        install_daemonset: False with the AKS-managed GPU stack, which ships its own
            plugin: installing a second one is what the seed's warning forbids.
        mig_strategy: the plugin's MIG strategy (`single`, `mixed`) on a MIG pool, else None.
    """

    provider: k8s.Provider
    namespace: str
    image: str
    pool_name: str
    pool_taints: Sequence[Taint]
    install_daemonset: bool
    mig_strategy: str | None = None


class NvidiaDevicePlugin(pulumi.ComponentResource):
    """Creates the GPU namespace and, unless AKS manages the GPU stack, the device plugin.

    Outputs: `namespace_name`, and `daemonset` (None with the managed stack).
    """

    namespace_name: pulumi.Output[str]
    daemonset: k8s.apps.v1.DaemonSet | None

    def __init__(self, name: str, args: DevicePluginArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:NvidiaDevicePlugin", name, None, opts)
        namespace = pods.namespace(args.namespace)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=namespace["metadata"],
            opts=child_options(self, "gpu-namespace", provider=args.provider),
        )
        self.namespace_name = ns.metadata.name

        self.daemonset = None
        if args.install_daemonset:
            daemonset = device_plugin_daemonset(
                namespace_name=args.namespace,
                image=args.image,
                pool_name=args.pool_name,
                pool_taints=args.pool_taints,
                mig_strategy=args.mig_strategy,
            )
            self.daemonset = k8s.apps.v1.DaemonSet(
                f"{name}-daemonset",
                metadata=daemonset["metadata"],
                spec=daemonset["spec"],
                # Not waiting for the GPU pool keeps the pool's many minutes off this
                # step: the DaemonSet starts a plugin on each GPU node as it joins.
                opts=child_options(self, "nvidia-device-plugin", provider=args.provider, depends_on=[ns]),
            )
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "daemonSetName": self.daemonset.metadata.name if self.daemonset else None,
            }
        )
