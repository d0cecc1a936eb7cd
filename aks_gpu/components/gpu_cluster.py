"""The AKS cluster, its GPU agent pool, and a Kubernetes provider for it."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.errors import RunError
from pulumi_azure_native import containerservice, features, resources

from aks_gpu.builders import arm
from aks_gpu.components.naming import child_options
from aks_gpu.config import validate
from aks_gpu.config.cluster import ClusterSettings
from aks_gpu.config.gpu_pool import GpuPoolSettings
from aks_gpu.config.project import PROJECT
from aks_gpu.facts import azure


@dataclasses.dataclass
class GpuClusterArgs:
    """Inputs of `GpuCluster`.

    Attributes:
        cluster: the new cluster to create, or the existing one to join.
        gpu_pool: the GPU agent pool to add to it.
    """

    cluster: ClusterSettings
    gpu_pool: GpuPoolSettings


class GpuCluster(pulumi.ComponentResource):
    """A new AKS cluster with a system pool (or an existing cluster) plus the GPU agent pool.

    Outputs: `resource_group_name`, `cluster_name`, `gpu_pool_name`, the user
    `kubeconfig` (a secret) and `provider`, a Kubernetes provider for the cluster.
    `cluster_ready` is what Kubernetes objects wait for before the first API call.
    """

    resource_group_name: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    gpu_pool: pulumi.CustomResource
    gpu_pool_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:GpuCluster", name, None, opts)
        cluster: containerservice.ManagedCluster | None = None
        if args.cluster.existing:
            existing = containerservice.get_managed_cluster_output(
                resource_group_name=args.cluster.existing.resource_group_name,
                resource_name=args.cluster.existing.name,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            # Reading the cluster makes a typo in its name fail at preview, not mid-update; the pool
            # waits for its name, so a pool name the cluster already uses stops it before it is sent.
            self.cluster_name = existing.apply(lambda found: checked_cluster_name(found, args.gpu_pool))
            self.resource_group_name = pulumi.Output.from_input(args.cluster.existing.resource_group_name)
        else:
            cluster = self._new_cluster(args.cluster)

        self.gpu_pool = self._gpu_pool(args, cluster)
        self.gpu_pool_name = pulumi.Output.from_input(args.gpu_pool.name)

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.resource_group_name,
            resource_name=self.cluster_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs[0].value.apply(lambda encoded: base64.b64decode(encoded).decode())
        )
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=self.kubeconfig,
            opts=child_options(self, "aks", depends_on=[cluster] if cluster else None),
        )
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "clusterName": self.cluster_name,
                "gpuPoolName": self.gpu_pool_name,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _new_cluster(self, settings: ClusterSettings) -> containerservice.ManagedCluster:
        group = resources.ResourceGroup(
            f"{self._name}-resource-group",
            resource_group_name=settings.resource_group_name,
            location=settings.location,
            opts=child_options(self, "resource-group"),
        )
        cluster = containerservice.ManagedCluster(
            f"{self._name}-cluster",
            resource_group_name=group.name,
            location=group.location,
            **arm.as_resource_args(arm.cluster_properties(settings)),
            # The GPU pool is its own AgentPool resource; without this, every
            # update would try to reconcile the pool list and remove it.
            opts=child_options(self, "cluster", ignore_changes=["agentPoolProfiles"]),
        )
        self.cluster_name = cluster.name
        self.resource_group_name = group.name
        return cluster

    def _gpu_pool(self, args: GpuClusterArgs, cluster: containerservice.ManagedCluster | None) -> pulumi.CustomResource:
        pool = args.gpu_pool
        props = arm.gpu_pool_properties(pool, args.cluster)
        if args.cluster.existing:
            props["tags"] = {validate.OWNER_TAG: stack_owner()}
        depends_on: list[pulumi.Resource] = [cluster] if cluster else []
        if pool.managed_gpu:
            depends_on += self._managed_gpu_feature(pool)
        # The generic ARM resource nests the pool's fields under `properties`.
        prefix = "properties." if pool.managed_gpu else ""
        options = child_options(
            self,
            "gpu-pool",
            depends_on=depends_on,
            # The pool keeps its name across a replacement, so the old one must go first.
            delete_before_replace=True,
            replace_on_changes=[prefix + p for p in arm.REPLACE_ON_CHANGES],
            ignore_changes=[prefix + p for p in arm.AUTOSCALED_IGNORED_PROPERTIES] if pool.autoscale else None,
        )
        if not pool.managed_gpu:
            return containerservice.AgentPool(
                f"{self._name}-pool",
                agent_pool_name=pool.name,
                resource_group_name=self.resource_group_name,
                resource_name_=self.cluster_name,
                **arm.as_resource_args(props),
                opts=options,
            )
        # `gpuProfile.nvidia` needs a newer agent pool API than this SDK's default.
        return resources.Resource(
            f"{self._name}-pool",
            api_version=azure.MANAGED_GPU_API_VERSION,
            resource_provider_namespace=azure.CONTAINER_SERVICE_NAMESPACE,
            parent_resource_path=self.cluster_name.apply(lambda name: f"managedClusters/{name}"),
            resource_type="agentPools",
            resource_name_=pool.name,
            resource_group_name=self.resource_group_name,
            properties=props,
            opts=options,
        )

    def _managed_gpu_feature(self, pool: GpuPoolSettings) -> list[pulumi.Resource]:
        if not pool.register_preview_features:
            pulumi.log.warn(
                f"gpuStack: managed needs the subscription feature {azure.MANAGED_GPU_FEATURE}. "
                f"Register it once with: {azure.feature_registration_command()} "
                "(or set aks-gpu:registerPreviewFeatures to true to let this stack do it).",
                resource=self,
            )
            return []
        feature = features.SubscriptionFeatureRegistration(
            f"{self._name}-managed-gpu-feature",
            provider_namespace=azure.CONTAINER_SERVICE_NAMESPACE,
            feature_name=azure.MANAGED_GPU_FEATURE,
            properties={},
            # A subscription-wide flag may serve other clusters: destroying this
            # stack must not unregister it.
            opts=child_options(self, "managed-gpu-feature", retain_on_delete=True),
        )
        return [feature]


class PoolNameTaken(RunError):
    """The GPU pool's name is taken by a pool of the existing cluster that this stack does not own."""


def stack_owner() -> str:
    """The value of the tag that marks the GPU pool as this stack's own in an existing cluster."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


def _profile(profile: Any) -> dict[str, Any]:
    # Invoke results arrive as output types or plain dicts, with snake_case names either way.
    def get(name: str) -> Any:
        return profile.get(name) if isinstance(profile, dict) else getattr(profile, name, None)

    return {"name": get("name"), "mode": get("mode"), "vmSize": get("vm_size"), "tags": get("tags")}


def checked_cluster_name(found: Any, pool: GpuPoolSettings) -> str:
    """The existing cluster's name once its pools show the GPU pool's name is free or this stack's own."""
    profiles = [_profile(p) for p in (found.agent_pool_profiles or [])]
    problem = validate.existing_pool_conflict(pool.name, pool.vm_size, profiles, stack_owner())
    if problem:
        raise PoolNameTaken(f"{PROJECT}:gpuPoolName = {json.dumps(pool.name)} is not allowed: {problem}")
    return found.name
