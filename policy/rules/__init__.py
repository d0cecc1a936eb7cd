"""The aks-gpu policy rules, as plain functions over plain data.

Every rule takes resource properties shaped the way the Pulumi engine hands them
to a policy pack (camelCase names, dicts and lists) and returns violation
messages. Nothing here starts the policy server, so the unit tests call the rules
directly; `policy/__main__.py` only adapts them to pulumi-policy callbacks and is
the one place that knows the SDK's quirks.

Two kinds of rule:

* resource rules, ``check(resource_type, props) -> [message, ...]``. The engine
  runs them on each resource's *inputs* before the resource is created or
  updated, so during `pulumi up` they stop a bad resource before Azure sees it.
* stack rules, ``check([Resource, ...]) -> [Violation, ...]``, for facts that
  span resources (which pools carry GPUs, where the cluster lives, whether the
  AKS-managed GPU stack was chosen). The engine runs them on every resource's
  *outputs* once all steps are done, in `preview` (the pull-request gate and the
  drift check) as well as in `up`. In an `up` without its own preview they could
  only fail the update after the fact, so every deploy job previews first.

Values the engine cannot know yet during a preview arrive as `UNKNOWN` (the
adapter replaces pulumi-policy's unknown sentinels with it). Rules skip what is
unknown: the same rule sees the real value when `pulumi up` registers the
resource.

Modules, each importing only those above it: `model` (levels, UNKNOWN, Resource,
Violation, Rule, value helpers), `resource_types` (type tokens in any API
version), `pools` (agent pools and taints), `workloads` (pod specs, containers,
the device plugin; `pod_templates` finds pod specs in any kind), then the rule families `vm_size_rules`, `gpu_rules`,
`privilege`, `cluster_rules`, and `pack` (RULES and `evaluate`). Facts come from
`aks_gpu.facts`; this package restates none.
"""

from __future__ import annotations

from aks_gpu.facts import vm_sizes
from policy.rules.cluster_rules import (
    cluster_identity_violations,
    kubeconfig_secrecy_problem,
    kubeconfig_source_violations,
    remediate_kubeconfig_secret,
)
from policy.rules.gpu_rules import (
    DEFAULT_GPU_TAINT,
    GPU_RESOURCES,
    MIG_RESOURCES,
    GpuTargets,
    device_plugin_conflict_violations,
    gpu_limit_problem,
    gpu_placement,
    gpu_pool_taint_violations,
    gpu_targets,
    gpu_workload_violations,
)
from policy.rules.model import (
    ADVISORY,
    MANDATORY,
    REMEDIATE,
    UNKNOWN,
    Resource,
    Rule,
    Violation,
    is_secret,
    is_unknown,
    reveal,
    today_utc,
)
from policy.rules.pack import RULES, evaluate
from policy.rules.pod_templates import PodSpecAt, pod_specs
from policy.rules.pools import (
    Pool,
    agent_pools,
    clusters,
    gpu_taints,
    is_gpu_pool,
    is_managed_gpu_pool,
    parse_taint,
    tolerates,
)
from policy.rules.privilege import DEVICE_PLUGIN_HOST_PATH, privilege_violations
from policy.rules.resource_types import AGENT_POOL, GENERIC_RESOURCE, K8S_PROVIDER, MANAGED_CLUSTER, canonical
from policy.rules.vm_size_rules import (
    RETIREMENT_WARNING_DAYS,
    gpu_vm_size_retiring_violations,
    gpu_vm_size_violations,
    vm_size_problem,
)
from policy.rules.workloads import (
    is_node_agent,
    looks_like_device_plugin,
    runs_device_plugin_image,
    without_device_plugin,
)

__all__ = [
    "ADVISORY",
    "AGENT_POOL",
    "DEFAULT_GPU_TAINT",
    "DEVICE_PLUGIN_HOST_PATH",
    "GPU_RESOURCES",
    "GENERIC_RESOURCE",
    "K8S_PROVIDER",
    "MANAGED_CLUSTER",
    "MANDATORY",
    "MIG_RESOURCES",
    "REMEDIATE",
    "RETIREMENT_WARNING_DAYS",
    "RULES",
    "UNKNOWN",
    "GpuTargets",
    "PodSpecAt",
    "Pool",
    "Resource",
    "Rule",
    "Violation",
    "agent_pools",
    "canonical",
    "cluster_identity_violations",
    "clusters",
    "device_plugin_conflict_violations",
    "evaluate",
    "gpu_limit_problem",
    "gpu_placement",
    "gpu_pool_taint_violations",
    "gpu_targets",
    "gpu_taints",
    "gpu_vm_size_retiring_violations",
    "gpu_vm_size_violations",
    "gpu_workload_violations",
    "is_gpu_pool",
    "is_managed_gpu_pool",
    "is_node_agent",
    "is_secret",
    "is_unknown",
    "kubeconfig_secrecy_problem",
    "kubeconfig_source_violations",
    "looks_like_device_plugin",
    "parse_taint",
    "pod_specs",
    "privilege_violations",
    "remediate_kubeconfig_secret",
    "reveal",
    "runs_device_plugin_image",
    "today_utc",
    "tolerates",
    "vm_size_problem",
    "vm_sizes",
    "without_device_plugin",
]
