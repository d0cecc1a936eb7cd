"""Rules on the GPU pool and what runs on it: the pool is tainted, workloads aimed at it take a GPU, one device plugin.

"Aimed at the GPU pool" means chosen deliberately: a node selector or required
affinity on the GPU labels, or a toleration naming the pool's taint. A key-less
`operator: Exists` toleration only lets a pod onto every node, and node agents
(DaemonSets) run wherever nodes are, so neither holds a GPU node by itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from aks_gpu.config.project import declared_keys
from aks_gpu.facts.gpu_models import GPU_MODELS
from aks_gpu.facts.kubernetes import ACCELERATOR_LABEL, AGENT_POOL_LABEL, GPU_RESOURCE, MIG_RESOURCE_PREFIX, Taint
from policy.rules.model import Resource, Violation, get, is_unknown, items, mapping, positive_int, reveal, text
from policy.rules.pod_templates import pod_specs
from policy.rules.pools import (
    agent_pools,
    gpu_pools,
    gpu_taints,
    is_gpu_pool,
    is_managed_gpu_pool,
    parse_taint,
    tolerates_by_key,
)
from policy.rules.resource_types import is_helm_release
from policy.rules.workloads import (
    containers,
    is_node_agent,
    looks_like_device_plugin,
    without_device_plugin,
    workload_name,
)

# The program's GPU taint (its default in Pulumi.yaml). Used only to recognise GPU
# workloads in a stack that has no GPU pool of its own to read the taints from.
# The pack runs from a checkout (PulumiPolicy.yaml sits in policy/), so it reads the
# Pulumi.yaml beside policy/ itself: aks_gpu may be installed anywhere (`pip install .`
# puts it in site-packages, far from any Pulumi.yaml).
PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
DEFAULT_GPU_TAINT = declared_keys(PROJECT_FILE)["gpuNodeTaints"]["default"][0]

# What a GPU workload may take: whole GPUs (no MIG, or MIG with the `single` strategy), or with
# the `mixed` strategy one `nvidia.com/mig-<slice>` of a slice some catalogued GPU model offers.
MIG_RESOURCES: frozenset[str] = frozenset(
    profile.resource for model in GPU_MODELS.values() for profile in model.mig_profiles.values()
)
GPU_RESOURCES: frozenset[str] = frozenset({GPU_RESOURCE, *MIG_RESOURCES})
GPU_LIMIT = (
    f"resources.limits['{GPU_RESOURCE}'] (or '{MIG_RESOURCE_PREFIX}<slice>' on a MIG pool of the mixed strategy)"
)


def gpu_pool_taint_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Resource rule: GPU pools without a NoSchedule/NoExecute taint of their own, or with malformed taints."""
    messages = []
    for pool in agent_pools(resource_type, props):
        taints = pool.fields.get("nodeTaints")
        if not is_gpu_pool(pool.fields) or is_unknown(taints):
            continue
        malformed = [t for t in items(taints) if parse_taint(text(t) or "") is None]
        if malformed:
            messages.append(
                f"GPU pool '{pool.name}' has taints AKS will reject: {malformed}; write them as key=value:Effect."
            )
        if not gpu_taints(pool.fields):
            messages.append(
                f"GPU pool '{pool.name}' has no NoSchedule/NoExecute taint of its own (the spot "
                f"taint does not count), so any pod can land on its GPU nodes. Add "
                f"nodeTaints: ['{DEFAULT_GPU_TAINT}'] and tolerate it in GPU workloads."
            )
    return messages


@dataclasses.dataclass(frozen=True)
class GpuTargets:
    """What marks a pod as placed on GPU nodes: the GPU pools' names and their taints."""

    pool_names: frozenset[str]
    taints: tuple[Taint, ...]


def gpu_targets(resources: Sequence[Resource]) -> GpuTargets:
    """The stack's GPU pool names and taints (the program's default taint when it has no GPU pool)."""
    names, taints = set(), []
    for _, pool in gpu_pools(resources):
        names.add(pool.name)
        taints.extend(t for t in gpu_taints(pool.fields) if t not in taints)
    if not names:
        # No GPU pool in this stack (for example one added to an existing cluster by
        # hand): fall back to the program's convention.
        taints = [parse_taint(DEFAULT_GPU_TAINT)]
    return GpuTargets(frozenset(names), tuple(taints))


def _selects_gpu_nodes(key: str, values: Iterable[str], targets: GpuTargets) -> bool:
    accelerator_key, accelerator = ACCELERATOR_LABEL
    values = set(values)
    if key == accelerator_key:
        return accelerator in values
    return key == AGENT_POOL_LABEL and bool(values & targets.pool_names)


def _affinity_placement(spec: Mapping[str, Any], targets: GpuTargets) -> str | None:
    terms = items(
        get(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    )
    for term in map(mapping, terms):
        for expr in map(mapping, items(term.get("matchExpressions"))):
            key, operator = text(expr.get("key")) or "", text(expr.get("operator"))
            values = [text(v) or "" for v in items(expr.get("values"))]
            if operator == "In" and _selects_gpu_nodes(key, values, targets):
                return f"its required node affinity {key} In {values}"
            if operator == "Exists" and key == ACCELERATOR_LABEL[0]:
                return f"its required node affinity {key} Exists"
    return None


def gpu_placement(spec: Mapping[str, Any], targets: GpuTargets) -> str | None:
    """How the pod spec is aimed at GPU nodes (for the message), or None if it is not."""
    for key, value in mapping(spec.get("nodeSelector")).items():
        if _selects_gpu_nodes(key, [text(value) or ""], targets):
            return f"its nodeSelector {key}={value}"
    placement = _affinity_placement(spec, targets)
    if placement:
        return placement
    for toleration in map(mapping, items(spec.get("tolerations"))):
        for taint in targets.taints:
            if tolerates_by_key(toleration, taint):
                return f"its toleration of the GPU taint {taint}"
    return None


@dataclasses.dataclass
class _GpuAsks:
    """What a pod's containers ask for that looks like a GPU but takes none (for the message)."""

    requests_only: set[str] = dataclasses.field(default_factory=set)
    unknown_slices: set[str] = dataclasses.field(default_factory=set)

    def problem(self) -> str:
        if self.unknown_slices:
            return (
                f"{sorted(self.unknown_slices)} is no MIG slice of any GPU in aks_gpu/facts/gpu_models.py, "
                f"so no node advertises it; set {GPU_LIMIT}"
            )
        if self.requests_only:
            return (
                f"{sorted(self.requests_only)} appears only under resources.requests; Kubernetes takes a GPU "
                "from resources.limits (and refuses a GPU request without a limit), so set it there"
            )
        return f"no container sets {GPU_LIMIT}"


def _takes_gpu(resources: Any, asks: _GpuAsks) -> bool | None:
    """Whether one container's limits take a GPU (None while unknown), noting near misses in `asks`."""
    limits = get(resources, "limits")
    if is_unknown(resources) or is_unknown(limits):
        return None
    values = [get(limits, name) for name in GPU_RESOURCES]
    if any(is_unknown(v) for v in values):
        return None
    if any(positive_int(v) for v in values):
        return True
    requests = mapping(get(resources, "requests"))
    asks.requests_only |= {name for name in requests if name in GPU_RESOURCES and name not in mapping(limits)}
    named = {*mapping(limits), *requests}
    asks.unknown_slices |= {n for n in named if n.startswith(MIG_RESOURCE_PREFIX) and n not in GPU_RESOURCES}
    return False


def gpu_limit_problem(spec: Mapping[str, Any]) -> str | None:
    """None if some container limits a GPU resource (`GPU_RESOURCES`) to a whole number >= 1, else why not."""
    if is_unknown(reveal(spec.get("containers"))):
        return None  # judged again when `up` knows the containers
    asks = _GpuAsks()
    for container in containers(spec, "containers"):
        if _takes_gpu(reveal(container.get("resources")), asks) is not False:
            return None
    return asks.problem()


def gpu_workload_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule: pod specs aimed at GPU nodes that set no GPU limit (`GPU_RESOURCES`), in any kind of object.

    Node agents (DaemonSets) are exempt, and so is each NVIDIA device plugin container; the
    other containers of a pod that runs the plugin are judged as any others.
    """
    targets = gpu_targets(resources)
    violations = []
    for r in resources:
        # Node agents (the device plugin, DCGM exporter, log shippers) serve or watch the
        # node; they do not consume its GPU and never keep a GPU node alive on their own.
        if is_node_agent(r.type):
            continue
        for at in pod_specs(r.type, r.props):
            message = _gpu_workload_problem(at.spec, targets)
            if message:
                violations.append(Violation(f"{workload_name(r.type, r.props, r.name, at.where)} {message}", r.urn))
    return violations


def _gpu_workload_problem(spec: Mapping[str, Any], targets: GpuTargets) -> str | None:
    placement = gpu_placement(spec, targets)
    judged = without_device_plugin(spec) if placement else None
    problem = gpu_limit_problem(judged) if judged is not None else None
    if problem is None:
        return None
    return (
        f"is scheduled onto the GPU pool by {placement}, but {problem}. A pod without a GPU limit holds an "
        f"expensive GPU node without using its GPU; add limits {{{GPU_RESOURCE}: 1}} (on a MIG pool of the "
        f"mixed strategy {{{MIG_RESOURCE_PREFIX}<slice>: 1}}) or drop the GPU selector/toleration."
    )


def device_plugin_conflict_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule: a device plugin (DaemonSet or Helm release) beside an AKS-managed GPU pool."""
    managed = [pool.name for _, pool in gpu_pools(resources) if is_managed_gpu_pool(pool.fields)]
    if not managed:
        return []
    return [
        Violation(
            f"{_installer(r)} installs the NVIDIA device plugin, but GPU "
            f"pool(s) {managed} use the AKS-managed GPU stack (gpuProfile.nvidia.managementMode: "
            "Managed), which runs its own. Two plugins fight over the kubelet socket and the GPU "
            "count; remove it, or use the device-plugin stack (aks-gpu:gpuStack).",
            r.urn,
        )
        for r in resources
        if (is_node_agent(r.type) or is_helm_release(r.type)) and looks_like_device_plugin(r.type, r.props)
    ]


def _installer(r: Resource) -> str:
    if is_helm_release(r.type):
        return f"Helm release '{text(r.props.get('name')) or r.name or '?'}'"
    return workload_name(r.type, r.props, r.name)
