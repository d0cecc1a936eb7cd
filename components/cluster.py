"""The AKS cluster, its GPU agent pool, and a Kubernetes provider for it."""

from __future__ import annotations

import base64
import dataclasses

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import containerservice, features, resources

from components import arm, catalog
from components.settings import Settings


@dataclasses.dataclass
class GpuClusterArgs:
    settings: Settings


class GpuCluster(pulumi.ComponentResource):
    """A new AKS cluster with a system pool (or an existing cluster) plus the GPU agent pool."""

    resource_group_name: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    gpu_pool: pulumi.CustomResource
    gpu_pool_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:GpuCluster", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        cluster: containerservice.ManagedCluster | None = None
        if settings.existing_cluster:
            existing = containerservice.get_managed_cluster_output(
                resource_group_name=settings.existing_cluster.resource_group_name,
                resource_name=settings.existing_cluster.name,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            # Reading the cluster makes a typo in its name fail at preview, not mid-update.
            self.cluster_name = existing.name
            self.resource_group_name = pulumi.Output.from_input(settings.existing_cluster.resource_group_name)
        else:
            group = resources.ResourceGroup(
                "resource-group",
                resource_group_name=settings.resource_group_name,
                location=settings.location,
                opts=child,
            )
            cluster = containerservice.ManagedCluster(
                "cluster",
                resource_group_name=group.name,
                location=group.location,
                **arm.as_resource_args(arm.cluster_properties(settings)),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # The GPU pool is its own AgentPool resource; without this, every
                    # update would try to reconcile the pool list and remove it.
                    ignore_changes=["agentPoolProfiles"],
                ),
            )
            self.cluster_name = cluster.name
            self.resource_group_name = group.name

        self.gpu_pool = self._gpu_pool(settings, cluster)
        self.gpu_pool_name = pulumi.Output.from_input(settings.gpu_pool_name)

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.resource_group_name,
            resource_name=self.cluster_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs[0].value.apply(lambda encoded: base64.b64decode(encoded).decode())
        )
        self.provider = k8s.Provider(
            "aks",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster] if cluster else None),
        )
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "clusterName": self.cluster_name,
                "gpuPoolName": self.gpu_pool_name,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _gpu_pool(self, settings: Settings, cluster: containerservice.ManagedCluster | None) -> pulumi.CustomResource:
        props = arm.gpu_pool_properties(settings)
        depends_on: list[pulumi.Resource] = [cluster] if cluster else []
        if settings.managed_gpu:
            depends_on += self._managed_gpu_feature(settings)
        # The generic ARM resource nests the pool's fields under `properties`.
        prefix = "properties." if settings.managed_gpu else ""
        options = pulumi.ResourceOptions(
            parent=self,
            depends_on=depends_on,
            # The pool keeps its name across a replacement, so the old one must go first.
            delete_before_replace=True,
            replace_on_changes=[prefix + p for p in arm.REPLACE_ON_CHANGES],
            ignore_changes=[prefix + p for p in arm.AUTOSCALED_IGNORED_PROPERTIES] if settings.autoscale else None,
        )
        if not settings.managed_gpu:
            return containerservice.AgentPool(
                "gpu-pool",
                agent_pool_name=settings.gpu_pool_name,
                resource_group_name=self.resource_group_name,
                resource_name_=self.cluster_name,
                **arm.as_resource_args(props),
                opts=options,
            )
        # `gpuProfile.nvidia` needs a newer agent pool API than this SDK's default.
        return resources.Resource(
            "gpu-pool",
            api_version=catalog.MANAGED_GPU_API_VERSION,
            resource_provider_namespace=catalog.CONTAINER_SERVICE_NAMESPACE,
            parent_resource_path=self.cluster_name.apply(lambda name: f"managedClusters/{name}"),
            resource_type="agentPools",
            resource_name_=settings.gpu_pool_name,
            resource_group_name=self.resource_group_name,
            properties=props,
            opts=options,
        )

    def _managed_gpu_feature(self, settings: Settings) -> list[pulumi.Resource]:
        if not settings.register_preview_features:
            pulumi.log.warn(
                f"gpuStack: managed needs the subscription feature {catalog.MANAGED_GPU_FEATURE}. "
                f"Register it once with: {arm.managed_pool_feature_command()} "
                "(or set aks-gpu:registerPreviewFeatures to true to let this stack do it).",
                resource=self,
            )
            return []
        feature = features.SubscriptionFeatureRegistration(
            "managed-gpu-feature",
            provider_namespace=catalog.CONTAINER_SERVICE_NAMESPACE,
            feature_name=catalog.MANAGED_GPU_FEATURE,
            properties={},
            # A subscription-wide flag may serve other clusters: destroying this
            # stack must not unregister it.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        return [feature]
