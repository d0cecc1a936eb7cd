"""The GPU agent pool as every component after the cluster takes it: one value, passed whole.

`GpuCluster` makes it; the device plugin, the verification and the workloads derive
what they need from it (node selector, tolerations, the resource counted, what re-runs
a check, what a GPU request must wait for), so no two components can disagree on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from aks_gpu.config.gpu_pool import GpuPoolSettings
from aks_gpu.facts.kubernetes import AGENT_POOL_LABEL


@dataclasses.dataclass(frozen=True)
class GpuPool:
    """A GPU agent pool of a cluster this stack reaches.

    Attributes:
        settings: the validated pool settings (size, taints, MIG, GPU stack, floor).
        agent_pool: the registered pool resource (an AgentPool, or a generic ARM
            resource for the AKS-managed GPU stack); its id re-runs the verification.
        provider: the Kubernetes provider of the pool's cluster.
        kubeconfig: the cluster's user kubeconfig (a Pulumi secret), for the checks.
    """

    settings: GpuPoolSettings
    agent_pool: pulumi.CustomResource
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    @property
    def node_selector(self) -> str:
        """Label selector of the pool's nodes (`kubernetes.azure.com/agentpool=<name>`)."""
        return f"{AGENT_POOL_LABEL}={self.settings.name}"

    def ready_for_gpus(self, plugin: pulumi.Resource, verification: pulumi.Resource | None) -> list[pulumi.Resource]:
        """What a pod asking for a GPU waits for: the pool, the plugin and, where it can, the verification.

        A pool autoscaled from zero gets its first node only because such a pod asks
        for a GPU, so there the pod cannot wait for the verification (a deadlock); the
        verification then runs beside it (see `Settings.verification_expected_gpus`).
        """
        gate: Sequence[pulumi.Resource] = [verification] if verification and not self.settings.scales_from_zero else []
        return [self.agent_pool, plugin, *gate]
