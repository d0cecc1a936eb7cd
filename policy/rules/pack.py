"""The pack: each rule with its name, description, level and scope, and `evaluate`, which runs them all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from aks_gpu.facts.device_plugin import TRUSTED_REPOSITORIES
from policy.rules.arm import CLUSTER_TYPE
from policy.rules.cluster_rules import (
    cluster_identity_violations,
    kubeconfig_secrecy_problem,
    kubeconfig_source_violations,
    remediate_kubeconfig_secret,
)
from policy.rules.gpu_rules import (
    GPU_LIMIT,
    MIG_RESOURCES,
    device_plugin_conflict_violations,
    gpu_pool_taint_violations,
    gpu_workload_violations,
)
from policy.rules.model import ADVISORY, MANDATORY, REMEDIATE, Resource, Rule, Violation
from policy.rules.privilege import DEVICE_PLUGIN_HOST_PATH, privilege_violations
from policy.rules.vm_size_rules import RETIREMENT_WARNING_DAYS, gpu_vm_size_retiring_violations, gpu_vm_size_violations

RULES: tuple[Rule, ...] = (
    Rule(
        name="gpu-vm-size-not-retired",
        description=(
            "No GPU pool uses a VM size that aks_gpu/facts/vm_sizes.py marks unsupported by AKS GPU "
            "pools, or that Azure has retired in the cluster's region. Pools are found wherever they are "
            "declared: an AgentPool, a cluster's agentPoolProfiles, a generic ARM resource, an ARM template."
        ),
        enforcement=MANDATORY,
        severity="high",
        scope="stack",
        check=gpu_vm_size_violations,
    ),
    Rule(
        name="gpu-vm-size-retiring-soon",
        description=(
            f"Warns when a GPU pool's VM size retires within {RETIREMENT_WARNING_DAYS} days in the cluster's "
            "region, or is not in aks_gpu/facts/vm_sizes.py (so its retirement date is unknown)."
        ),
        enforcement=ADVISORY,
        severity="low",
        scope="stack",
        check=gpu_vm_size_retiring_violations,
    ),
    Rule(
        name="gpu-pool-tainted",
        description=(
            "Each GPU pool carries a NoSchedule/NoExecute taint of its own, so only pods that "
            "tolerate it land on GPU nodes. Advisory: an untainted pool is a cost risk, not an "
            "error, and the walkthrough's untainted pool stays a valid choice."
        ),
        enforcement=ADVISORY,
        severity="medium",
        scope="resource",
        check=gpu_pool_taint_violations,
    ),
    Rule(
        name="gpu-workloads-request-gpu",
        description=(
            "Every pod spec aimed at a GPU pool (by the accelerator or agentpool label, or by a "
            f"toleration naming the pool's taint) sets {GPU_LIMIT}, the slice being one that "
            f"aks_gpu/facts/gpu_models.py defines ({len(MIG_RESOURCES)} of them, e.g. "
            f"{min(MIG_RESOURCES)}). Pod specs are found in every kind: built-in workloads, and any "
            "custom resource's pod templates (RayCluster, PyTorchJob, JobSet, Argo workflows, ...). "
            "Node agents (DaemonSets such as the NVIDIA device plugin or the DCGM exporter), the "
            "NVIDIA device plugin's own containers (not their neighbours) and key-less "
            "'operator: Exists' tolerations do not count as aiming at GPU nodes."
        ),
        enforcement=MANDATORY,
        severity="medium",
        scope="stack",
        check=gpu_workload_violations,
    ),
    Rule(
        name="no-device-plugin-with-managed-gpu",
        description=(
            "No NVIDIA device plugin (a DaemonSet, or a Helm release of its chart or of the GPU Operator) "
            "when a GPU pool uses the AKS-managed GPU stack, which installs its own."
        ),
        enforcement=MANDATORY,
        severity="high",
        scope="stack",
        check=device_plugin_conflict_violations,
    ),
    Rule(
        name="no-privileged-containers",
        description=(
            "In any pod spec of any kind (custom resources' pod templates included): no container is "
            "privileged, allows privilege escalation (true or unset) or adds a capability beyond the "
            "Pod Security Standards' Baseline (SYS_ADMIN, SYS_MODULE, ALL, ...); no pod shares the "
            "node's PID, IPC or network namespace; no pod mounts a hostPath, and no PersistentVolume "
            f"is one, except {DEVICE_PLUGIN_HOST_PATH} mounted only by NVIDIA device plugin "
            "containers. The device plugin container running a MIG strategy (single or mixed) may add "
            "SYS_ADMIN, as NVIDIA's chart does. The plugin is recognised per container by its image "
            f"from {' or '.join(TRUSTED_REPOSITORIES)} only."
        ),
        enforcement=MANDATORY,
        severity="high",
        scope="resource",
        check=privilege_violations,
    ),
    Rule(
        name="kubeconfig-is-secret",
        description=(
            "The Kubernetes provider's kubeconfig comes from the program and is a Pulumi secret. "
            "Secrecy is visible to this pack only while remediating (pulumi-policy 1.21 strips "
            "secret markers before validations run), so at the 'remediate' level the pack marks a "
            "plain kubeconfig secret before the engine stores it; at 'mandatory' or 'advisory' it "
            "can only check that the kubeconfig is the program's and not the runner's. Stack "
            "outputs reach policies without their secret markers, so the kubeconfig output is "
            "secret only by the program exporting this same secret Output."
        ),
        enforcement=REMEDIATE,
        severity="critical",
        scope="resource",
        check=kubeconfig_source_violations,
        needs_remediation=kubeconfig_secrecy_problem,
        remediate=remediate_kubeconfig_secret,
    ),
    Rule(
        name="cluster-rbac-and-managed-identity",
        description=(
            "Every AKS cluster enables Kubernetes RBAC and runs as a managed identity, however it is "
            f"declared: a ManagedCluster, a generic ARM resource (resources:Resource) of type {CLUSTER_TYPE}, "
            "or a cluster inside an ARM template deployment."
        ),
        enforcement=MANDATORY,
        severity="high",
        scope="resource",
        check=cluster_identity_violations,
    ),
)


def evaluate(resources: Sequence[Resource], today: date | None = None) -> dict[str, list[Violation]]:
    """Run every rule over a whole stack the way the engine would: resource rules on
    each resource, stack rules once. Returns rule name -> violations (tests use it
    to prove the program's own stack is clean)."""
    results: dict[str, list[Violation]] = {}
    for rule in RULES:
        if rule.scope == "stack":
            found = list(rule.check(resources, today))
        else:
            found = [Violation(m, r.urn) for r in resources for m in rule.check(r.type, r.props)]
        if rule.needs_remediation is not None:
            found += [Violation(m, r.urn) for r in resources if (m := rule.needs_remediation(r.type, r.props))]
        results[rule.name] = found
    return results
