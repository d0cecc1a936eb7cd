"""The GPU namespace and the NVIDIA device plugin DaemonSet."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import manifests


@dataclasses.dataclass
class DevicePluginArgs:
    provider: k8s.Provider
    namespace: str
    image: str
    pool_name: str
    pool_taints: Sequence[str]
    # False with the AKS-managed GPU stack, which ships its own plugin: installing
    # a second one is what the seed's warning forbids.
    install_daemonset: bool
    gpu_pool: pulumi.Resource


class NvidiaDevicePlugin(pulumi.ComponentResource):
    """Creates the GPU namespace and, unless AKS manages the GPU stack, the device plugin."""

    namespace_name: pulumi.Output[str]
    daemonset: k8s.apps.v1.DaemonSet | None

    def __init__(self, name: str, args: DevicePluginArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:NvidiaDevicePlugin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)

        namespace = manifests.namespace(args.namespace)
        ns = k8s.core.v1.Namespace("gpu-namespace", metadata=namespace["metadata"], opts=child)
        self.namespace_name = ns.metadata.name

        self.daemonset = None
        if args.install_daemonset:
            daemonset = manifests.device_plugin_daemonset(
                namespace_name=args.namespace,
                image=args.image,
                pool_name=args.pool_name,
                pool_taints=args.pool_taints,
            )
            self.daemonset = k8s.apps.v1.DaemonSet(
                "nvidia-device-plugin",
                metadata=daemonset["metadata"],
                spec=daemonset["spec"],
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ns, args.gpu_pool])),
            )
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "daemonSetName": self.daemonset.metadata.name if self.daemonset else None,
            }
        )
