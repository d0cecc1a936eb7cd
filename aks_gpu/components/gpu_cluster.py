"""The AKS cluster, its GPU agent pool, and a Kubernetes provider for it."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.errors import RunError
from pulumi_azure_native import authorization, containerservice, features, resources

from aks_gpu.builders import arm
from aks_gpu.builders import role_assignment as ra
from aks_gpu.builders.kubeconfig import convert_kubeconfig
from aks_gpu.components.check_inputs import AccessCheckInputs
from aks_gpu.components.checks import ClusterAccessCheck
from aks_gpu.components.gpu_pool import GpuPool
from aks_gpu.components.naming import GPU_CLUSTER_TYPE, child_options
from aks_gpu.config import validate
from aks_gpu.config.access import AccessSettings
from aks_gpu.config.cluster import ClusterSettings
from aks_gpu.config.gpu_pool import GpuPoolSettings
from aks_gpu.config.project import PROJECT
from aks_gpu.facts import azure, entra, names


@dataclasses.dataclass
class GpuClusterArgs:
    """Inputs of `GpuCluster`.

    Attributes:
        cluster: the new cluster to create, or the existing one to join.
        gpu_pool: the GPU agent pool to add to it.
        access: Entra ID for a new cluster, and how kubelogin signs in to an Entra ID cluster.
    """

    cluster: ClusterSettings
    gpu_pool: GpuPoolSettings
    access: AccessSettings


class GpuCluster(pulumi.ComponentResource):
    """A new AKS cluster with a system pool (or an existing cluster) plus the GPU agent pool.

    Outputs: `resource_group_name`, `cluster_name`, `gpu_pool_name`, the user
    `kubeconfig` (a secret), `provider`, a Kubernetes provider for the cluster, and
    `pool`, the GPU pool as the components after the cluster take it (`GpuPool`).

    An Entra ID cluster's kubeconfig is rewritten to `access.kubelogin_mode`, so
    neither the provider nor the verification waits for a person. A new Entra ID
    cluster also gets a role assignment making the deploying identity cluster
    admin, and a check that waits until the cluster honours it; the provider (so
    every Kubernetes object) and the kubeconfig output (so every check) wait for both.
    """

    resource_group_name: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    gpu_pool: pulumi.CustomResource
    gpu_pool_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    pool: GpuPool

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(GPU_CLUSTER_TYPE, name, None, opts)
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
            cluster = self._new_cluster(args.cluster, args.access)

        self.gpu_pool = self._gpu_pool(args, cluster)
        self.gpu_pool_name = pulumi.Output.from_input(args.gpu_pool.name)

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.resource_group_name,
            resource_name=self.cluster_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        mode = args.access.kubelogin_mode
        kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs[0].value.apply(
                lambda encoded: convert_kubeconfig(base64.b64decode(encoded).decode(), mode)
            )
        )
        gate: list[pulumi.Resource] = []
        if cluster is not None and args.access.entra_id:
            gate = self._deployer_access(cluster, kubeconfig)
        # Anything reading the kubeconfig (the checks) waits for the gate too.
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(kubeconfig, *(g.urn for g in gate)).apply(lambda values: values[0])
        )
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=self.kubeconfig,
            opts=child_options(self, "aks", depends_on=([cluster] if cluster else []) + gate or None),
        )
        self.pool = GpuPool(
            settings=args.gpu_pool, agent_pool=self.gpu_pool, provider=self.provider, kubeconfig=self.kubeconfig
        )
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "clusterName": self.cluster_name,
                "gpuPoolName": self.gpu_pool_name,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _new_cluster(self, settings: ClusterSettings, access: AccessSettings) -> containerservice.ManagedCluster:
        group = resources.ResourceGroup(
            names.child_name(self._name, names.RESOURCE_GROUP),
            resource_group_name=settings.resource_group_name,
            location=settings.location,
            opts=child_options(self, names.RESOURCE_GROUP),
        )
        cluster = containerservice.ManagedCluster(
            names.child_name(self._name, names.CLUSTER),
            resource_group_name=group.name,
            location=group.location,
            **arm.as_resource_args(arm.cluster_properties(settings, access)),
            # The GPU pool is its own AgentPool resource; without this, every
            # update would try to reconcile the pool list and remove it.
            opts=child_options(self, names.CLUSTER, ignore_changes=["agentPoolProfiles"]),
        )
        self.cluster_name = cluster.name
        self.resource_group_name = group.name
        return cluster

    def _deployer_access(
        self, cluster: containerservice.ManagedCluster, kubeconfig: pulumi.Output[str]
    ) -> list[pulumi.Resource]:
        """Make the identity running `pulumi up` cluster admin, and wait until the cluster knows it.

        With Azure RBAC, creating the cluster gives its creator no Kubernetes
        rights; without this, the first Kubernetes call of the stack is refused.
        """
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        assignment = authorization.RoleAssignment(
            f"{self._name}-deployer-cluster-admin",
            role_assignment_name=pulumi.Output.all(cluster.id, client.object_id).apply(
                lambda ids: ra.role_assignment_name(ids[0], ids[1], entra.AKS_RBAC_CLUSTER_ADMIN_ROLE_ID)
            ),
            scope=cluster.id,
            principal_id=client.object_id,
            principal_type=client.client_id.apply(ra.principal_type),
            role_definition_id=client.subscription_id.apply(ra.role_definition_id),
            description="aks-gpu: the identity that deploys this stack manages the cluster's Kubernetes objects.",
            opts=child_options(self, None, depends_on=[cluster]),
        )
        access = ClusterAccessCheck(
            f"{self._name}-kubernetes-access",
            kubeconfig,
            AccessCheckInputs(timeout_seconds=entra.ROLE_PROPAGATION_SECONDS),
            # A new assignment (another deployer, a re-created cluster) waits again.
            triggers={"roleAssignmentId": assignment.id},
            opts=child_options(
                self,
                None,
                depends_on=[assignment],
                additional_secret_outputs=["kubeconfig"],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{entra.ROLE_PROPAGATION_SECONDS + 120}s"),
            ),
        )
        return [assignment, access]

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
            # Typed here: mypy skips the generated azure-native modules (pyproject.toml).
            agent_pool: pulumi.CustomResource = containerservice.AgentPool(
                f"{self._name}-pool",
                agent_pool_name=pool.name,
                resource_group_name=self.resource_group_name,
                resource_name_=self.cluster_name,
                **arm.as_resource_args(props),
                opts=options,
            )
            return agent_pool
        # `gpuProfile.nvidia` needs a newer agent pool API than this SDK's default.
        managed_pool: pulumi.CustomResource = resources.Resource(
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
        return managed_pool

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


class ClusterTooOld(RunError):
    """The existing cluster's Kubernetes version is below what the configured GPU stack needs."""


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
    version = str(getattr(found, "current_kubernetes_version", None) or getattr(found, "kubernetes_version", "") or "")
    too_old = validate.managed_gpu_version_problem(version) if pool.managed_gpu else None
    if too_old:
        raise ClusterTooOld(
            f'{PROJECT}:gpuStack = "managed" is not allowed on the existing cluster {found.name} '
            f"(Kubernetes {version}): {too_old}"
        )
    return str(found.name)
