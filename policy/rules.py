"""The aks-gpu policy rules, as plain functions over plain data.

Every rule takes resource properties shaped the way the Pulumi engine hands them
to a policy pack (camelCase names, dicts and lists) and returns violation
messages. Nothing here starts the policy server, so `tests/test_policy_rules.py`
calls the rules directly; `policy/__main__.py` only adapts them to pulumi-policy
callbacks and is the one place that knows the SDK's quirks.

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

The GPU VM size facts come from `aks_gpu/facts/vm_sizes.py`, the program's single
source for them; this module keeps no list of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pulumi_policy import Secret

from aks_gpu.config.project import declared_default
from aks_gpu.facts import azure, device_plugin, vm_sizes
from aks_gpu.facts.kubernetes import (
    ACCELERATOR_LABEL,
    AGENT_POOL_LABEL,
    GPU_RESOURCE,
    HARD_TAINT_EFFECTS,
    SPOT_TAINT,
    Taint,
)

# --- Vocabulary ----------------------------------------------------------------

MANDATORY = "mandatory"
ADVISORY = "advisory"
# A remediation rewrites the resource's inputs before the engine uses them.
REMEDIATE = "remediate"

AGENT_POOL = "azure-native:containerservice:AgentPool"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
GENERIC_RESOURCE = "azure-native:resources:Resource"
K8S_PROVIDER = "pulumi:providers:kubernetes"

# Where each Kubernetes workload type keeps its pod spec. The `...Patch` types of
# pulumi-kubernetes have the same shape and are handled by stripping the suffix.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
DAEMONSET = "kubernetes:apps/v1:DaemonSet"

# The one hostPath the NVIDIA device plugin needs, and the only one this pack lets any workload mount.
DEVICE_PLUGIN_HOST_PATH = device_plugin.SOCKET_DIR

# The program's GPU taint (its default in Pulumi.yaml). Used only to recognise GPU
# workloads in a stack that has no GPU pool of its own to read the taints from.
DEFAULT_GPU_TAINT = declared_default("gpuNodeTaints")[0]
# Capabilities that amount to a privileged container.
_PRIVILEGED_CAPABILITIES = {"ALL", "SYS_ADMIN", "CAP_SYS_ADMIN"}

# How far ahead the advisory rule warns about a GPU size's retirement: long
# enough to plan a node pool migration and a quota request for the successor.
RETIREMENT_WARNING_DAYS = 180

# The engine's wire form of a secret, should a raw value ever reach a rule.
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class _Unknown:
    """A value the engine will only know once the resource exists (preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclasses.dataclass(frozen=True)
class Resource:
    """One resource of the stack as a stack rule sees it."""

    type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Violation:
    """A stack rule's finding; `urn` names the offending resource."""

    message: str
    urn: str = ""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One policy: its name, description, level, scope and check (and remediation, for REMEDIATE rules)."""

    name: str
    description: str
    enforcement: str
    severity: str
    scope: str  # "resource" or "stack"
    # resource rules: (resource_type, props) -> [message]
    # stack rules: (resources, today=None) -> [Violation]; `today` makes dated rules testable
    check: Callable[..., list]
    # REMEDIATE rules: (resource_type, raw_props) -> why the inputs need rewriting, or None ...
    needs_remediation: Callable[[str, Mapping[str, Any]], str | None] | None = None
    # ... and (resource_type, raw_props) -> the rewritten inputs, or None.
    remediate: Callable[[str, Mapping[str, Any]], dict | None] | None = None


# --- Small helpers -------------------------------------------------------------


def is_unknown(value: Any) -> bool:
    """Whether the engine does not know `value` yet (preview)."""
    return value is UNKNOWN


def is_secret(value: Any) -> bool:
    """Whether `value` is marked secret, in either form a policy pack can meet it."""
    if isinstance(value, Secret):
        return True
    return isinstance(value, Mapping) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG


def reveal(value: Any) -> Any:
    """The plain value behind a secret marker (rules that do not care about secrecy)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, Mapping) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG:
        return reveal(value.get("value"))
    return value


def _get(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None when a step is missing; UNKNOWN propagates."""
    for key in path:
        obj = reveal(obj)
        if is_unknown(obj):
            return UNKNOWN
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return reveal(obj)


def _str(value: Any) -> str | None:
    value = reveal(value)
    return value if isinstance(value, str) else None


def _list(value: Any) -> list:
    value = reveal(value)
    return list(value) if isinstance(value, (list, tuple)) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    value = reveal(value)
    return value if isinstance(value, Mapping) else {}


def _eq(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


def today_utc() -> date:
    """Today's date in UTC, the reference for dated rules."""
    return datetime.now(UTC).date()


# --- Agent pools ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pool:
    """An AKS agent pool, wherever the program declared it."""

    name: str
    fields: Mapping[str, Any]  # the camelCase agent pool properties
    cluster: str | None  # the cluster's name, when the resource says


def _is_agent_pool_resource(props: Mapping[str, Any]) -> bool:
    """A generic ARM resource that is an AKS agent pool (the managed-GPU pool).

    Inputs name the type in pieces; outputs carry ARM's full `type` instead.
    """
    namespace = _str(props.get("resourceProviderNamespace"))
    resource_type = _str(props.get("resourceType")) or ""
    if _eq(namespace, azure.CONTAINER_SERVICE_NAMESPACE) and resource_type.lower().endswith("agentpools"):
        return True
    return _eq(_str(props.get("type")), f"{azure.CONTAINER_SERVICE_NAMESPACE}/managedClusters/agentPools")


def agent_pools(resource_type: str, props: Mapping[str, Any]) -> list[Pool]:
    """The agent pools a resource declares: an AgentPool, a generic ARM agent pool, or a cluster's inline pools."""
    if resource_type == AGENT_POOL:
        name = _str(props.get("agentPoolName")) or _str(props.get("name")) or "?"
        return [Pool(name, props, _str(props.get("resourceName")))]
    if resource_type == GENERIC_RESOURCE and _is_agent_pool_resource(props):
        name = _str(props.get("resourceName")) or _str(props.get("name")) or "?"
        parent = _str(props.get("parentResourcePath")) or ""
        cluster = parent.split("/", 1)[1] if parent.lower().startswith("managedclusters/") else None
        return [Pool(name, _mapping(props.get("properties")), cluster)]
    if resource_type == MANAGED_CLUSTER:
        cluster = _str(props.get("resourceName")) or _str(props.get("name"))
        return [
            Pool(_str(p.get("name")) or "?", p, cluster)
            for p in map(_mapping, _list(props.get("agentPoolProfiles")))
            if p
        ]
    return []


def is_gpu_pool(fields: Mapping[str, Any]) -> bool:
    """A pool meant for GPUs: an N-series size, a GPU profile, or the GPU label."""
    vm_size = _str(fields.get("vmSize")) or ""
    labels = _mapping(fields.get("nodeLabels"))
    key, value = ACCELERATOR_LABEL
    return (
        vm_size.lower().startswith("standard_n")
        or fields.get("gpuProfile") is not None
        or fields.get("gpuInstanceProfile") is not None
        or _str(labels.get(key)) == value
    )


def is_managed_gpu_pool(fields: Mapping[str, Any]) -> bool:
    """AKS installs and runs the NVIDIA stack itself (gpuProfile.nvidia.managementMode)."""
    return _eq(_str(_get(fields, "gpuProfile", "nvidia", "managementMode")), "Managed")


def _cluster_locations(resources: Sequence[Resource]) -> tuple[dict[str, str], str | None]:
    """Cluster name (lower case) -> location, and the location if there is just one cluster."""
    by_name: dict[str, str] = {}
    locations = []
    for r in resources:
        if r.type != MANAGED_CLUSTER:
            continue
        location = _str(r.props.get("location"))
        if location is None:
            continue
        locations.append(location)
        name = _str(r.props.get("resourceName")) or _str(r.props.get("name"))
        if name:
            by_name[name.lower()] = location
    return by_name, locations[0] if len(locations) == 1 else None


def _gpu_pools(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Pool]]:
    # A cluster's outputs list every agent pool, including the ones the stack
    # declares as resources of their own; those are reported once, on their own URN.
    standalone = {pool.name for r in resources if r.type != MANAGED_CLUSTER for pool in agent_pools(r.type, r.props)}
    for r in resources:
        for pool in agent_pools(r.type, r.props):
            if r.type == MANAGED_CLUSTER and pool.name in standalone:
                continue
            if is_gpu_pool(pool.fields):
                yield r, pool


# --- Taints and tolerations ----------------------------------------------------


def parse_taint(text: str) -> Taint | None:
    """AKS's `key=value:Effect` (or `key:Effect`) form; None when malformed."""
    return Taint.try_parse(text)


def gpu_taints(fields: Mapping[str, Any]) -> list[Taint]:
    """The pool's taints that keep ordinary pods off; the AKS spot taint does not
    count, since every spot pool carries it and it says nothing about GPUs."""
    taints = []
    for text in _list(fields.get("nodeTaints")):
        taint = parse_taint(_str(text) or "")
        if taint and taint.effect in HARD_TAINT_EFFECTS and taint != SPOT_TAINT:
            taints.append(taint)
    return taints


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """Kubernetes' toleration matching (core/v1 Toleration semantics)."""
    return taint.tolerated_by({key: _str(toleration.get(key)) for key in ("key", "operator", "value", "effect")})


# --- Kubernetes workloads ------------------------------------------------------


def _base_type(resource_type: str) -> str:
    return resource_type[: -len("Patch")] if resource_type.endswith("Patch") else resource_type


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec inside a workload's properties, or None for other resource types."""
    path = POD_SPEC_PATHS.get(_base_type(resource_type))
    if path is None:
        return None
    spec = _get(props, *path)
    return spec if isinstance(spec, Mapping) else None


def _containers(spec: Mapping[str, Any], *kinds: str) -> Iterator[Mapping[str, Any]]:
    for kind in kinds or ("initContainers", "containers", "ephemeralContainers"):
        for container in _list(spec.get(kind)):
            container = _mapping(container)
            if container:
                yield container


def _workload_name(r_type: str, props: Mapping[str, Any], fallback: str = "") -> str:
    kind = _base_type(r_type).rsplit(":", 1)[-1]
    name = _str(_get(props, "metadata", "name")) or fallback or "?"
    return f"{kind} '{name}'"


def is_device_plugin(spec: Mapping[str, Any]) -> bool:
    """The NVIDIA device plugin, recognised by its image (labels are easy to copy)."""
    return any(device_plugin.is_device_plugin_image(_str(c.get("image")) or "") for c in _containers(spec))


def looks_like_device_plugin(resource_type: str, props: Mapping[str, Any]) -> bool:
    """Broader than `is_device_plugin`: used to *refuse*, so any sign counts."""
    spec = pod_spec(resource_type, props) or {}
    labels = _mapping(_get(props, "metadata", "labels"))
    name = _str(_get(props, "metadata", "name")) or ""
    return (
        is_device_plugin(spec)
        or _str(labels.get("app.kubernetes.io/name")) == device_plugin.NAME
        or device_plugin.NAME in name
    )


def _positive_int(value: Any) -> bool:
    """A whole number >= 1. The engine sends numbers as doubles (1.0), manifests may say "1"."""
    value = reveal(value)
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value >= 1 and float(value).is_integer()
    try:
        return isinstance(value, str) and int(value) >= 1
    except ValueError:
        return False


# --- Rule: GPU VM size is known, supported and not retired (stack) -------------


def vm_size_problem(vm_size: str, location: str | None, today: date) -> str | None:
    """Why `vm_size` cannot carry the GPU pool on `today` in `location`, or None."""
    reason = vm_sizes.unsupported_reason(vm_size)
    if reason:
        return f"{vm_size} cannot back an AKS GPU pool: {reason}."
    size = vm_sizes.find_gpu_vm_size(vm_size)
    if size is None:
        return (
            f"{vm_size} is not in the GPU VM size catalog (aks_gpu/facts/vm_sizes.py), so its GPU "
            "and retirement date are unknown. Pick a listed size, or add this one to the "
            "catalog with its source."
        )
    if size.is_retired(today, location):
        where = f" in {location}" if location else ""
        successor = f" Move to {size.successor}." if size.successor else ""
        return (
            f"{size.name} ({size.family}, {size.gpu_model}) was retired{where} on "
            f"{size.retirement_date(location)}; Azure no longer allocates it.{successor}"
        )
    return None


def _pools_with_location(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Pool, str | None]]:
    by_name, only = _cluster_locations(resources)
    for r, pool in _gpu_pools(resources):
        if r.type == MANAGED_CLUSTER:
            location = _str(r.props.get("location"))
        else:
            location = by_name.get((pool.cluster or "").lower(), only)
        yield r, pool, location


def gpu_vm_size_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule: GPU pools whose VM size is unknown, unsupported or retired in the cluster's region."""
    today = today or today_utc()
    violations = []
    for r, pool, location in _pools_with_location(resources):
        vm_size = _str(pool.fields.get("vmSize"))
        if vm_size is None:
            continue  # unknown during preview; judged again when `up` registers it
        problem = vm_size_problem(vm_size, location, today)
        if problem:
            violations.append(Violation(f"GPU pool '{pool.name}': {problem}", r.urn))
    return violations


def gpu_vm_size_retiring_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule (advisory): GPU pools whose VM size retires within RETIREMENT_WARNING_DAYS."""
    today = today or today_utc()
    horizon = today + timedelta(days=RETIREMENT_WARNING_DAYS)
    violations = []
    for r, pool, location in _pools_with_location(resources):
        size = vm_sizes.find_gpu_vm_size(_str(pool.fields.get("vmSize")) or "")
        retires = size.retirement_date(location) if size else None
        if size and retires and today < retires <= horizon:
            successor = f" Plan the move to {size.successor}." if size.successor else ""
            violations.append(
                Violation(
                    f"GPU pool '{pool.name}': {size.name} retires on {retires} "
                    f"({(retires - today).days} days).{successor}",
                    r.urn,
                )
            )
    return violations


# --- Rule: the GPU pool is tainted (resource) ----------------------------------


def gpu_pool_taint_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Resource rule: GPU pools without a NoSchedule/NoExecute taint of their own, or with malformed taints."""
    messages = []
    for pool in agent_pools(resource_type, props):
        if not is_gpu_pool(pool.fields):
            continue
        taints = pool.fields.get("nodeTaints")
        if is_unknown(taints):
            continue
        malformed = [t for t in _list(taints) if parse_taint(_str(t) or "") is None]
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


# --- Rule: workloads on the GPU pool request nvidia.com/gpu (stack) ------------


@dataclasses.dataclass(frozen=True)
class GpuTargets:
    """What marks a pod as placed on GPU nodes: the GPU pools' names and their taints."""

    pool_names: frozenset[str]
    taints: tuple[Taint, ...]


def gpu_targets(resources: Sequence[Resource]) -> GpuTargets:
    """The stack's GPU pool names and taints (the program's default taint when it has no GPU pool)."""
    names, taints = set(), []
    for _, pool in _gpu_pools(resources):
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


def gpu_placement(spec: Mapping[str, Any], targets: GpuTargets) -> str | None:
    """How the pod spec reaches GPU nodes (for the message), or None if it does not."""
    for key, value in _mapping(spec.get("nodeSelector")).items():
        if _selects_gpu_nodes(key, [_str(value) or ""], targets):
            return f"its nodeSelector {key}={value}"
    terms = _list(
        _get(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    )
    for term in map(_mapping, terms):
        for expr in map(_mapping, _list(term.get("matchExpressions"))):
            key, operator = _str(expr.get("key")) or "", _str(expr.get("operator"))
            values = [_str(v) or "" for v in _list(expr.get("values"))]
            if operator == "In" and _selects_gpu_nodes(key, values, targets):
                return f"its required node affinity {key} In {values}"
            if operator == "Exists" and key == ACCELERATOR_LABEL[0]:
                return f"its required node affinity {key} Exists"
    for toleration in map(_mapping, _list(spec.get("tolerations"))):
        for taint in targets.taints:
            if tolerates(toleration, taint):
                return f"its toleration of the GPU taint {taint}"
    return None


def gpu_limit_problem(spec: Mapping[str, Any]) -> str | None:
    """None if some container sets limits['nvidia.com/gpu'] to a whole number >= 1."""
    if is_unknown(reveal(spec.get("containers"))):
        return None  # judged again when `up` knows the containers
    in_requests_only = False
    for container in _containers(spec, "containers"):
        resources = reveal(container.get("resources"))
        limits = _get(resources, "limits")
        gpu = _get(limits, GPU_RESOURCE)
        if any(is_unknown(v) for v in (resources, limits, gpu)) or _positive_int(gpu):
            return None
        in_requests_only |= _get(resources, "requests", GPU_RESOURCE) is not None
    if in_requests_only:
        return (
            f"{GPU_RESOURCE} appears only under resources.requests; Kubernetes takes a GPU "
            "from resources.limits (and refuses a GPU request without a limit), so set it there"
        )
    return f"no container sets resources.limits['{GPU_RESOURCE}']"


def gpu_workload_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule: workloads placed on GPU nodes that set no nvidia.com/gpu limit."""
    targets = gpu_targets(resources)
    violations = []
    for r in resources:
        spec = pod_spec(r.type, r.props)
        if spec is None:
            continue
        placement = gpu_placement(spec, targets)
        # The device plugin serves GPUs to the node; it does not consume one.
        if placement is None or is_device_plugin(spec):
            continue
        problem = gpu_limit_problem(spec)
        if problem:
            violations.append(
                Violation(
                    f"{_workload_name(r.type, r.props, r.name)} is scheduled onto the GPU pool by "
                    f"{placement}, but {problem}. A pod without a GPU limit holds an expensive GPU "
                    f"node without using its GPU; add limits {{{GPU_RESOURCE}: 1}} or drop "
                    "the GPU selector/toleration.",
                    r.urn,
                )
            )
    return violations


# --- Rule: no device plugin DaemonSet with the AKS-managed GPU stack (stack) ---


def device_plugin_conflict_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule: a device plugin DaemonSet beside an AKS-managed GPU pool."""
    managed = [pool.name for _, pool in _gpu_pools(resources) if is_managed_gpu_pool(pool.fields)]
    if not managed:
        return []
    return [
        Violation(
            f"{_workload_name(r.type, r.props, r.name)} installs the NVIDIA device plugin, but GPU "
            f"pool(s) {managed} use the AKS-managed GPU stack (gpuProfile.nvidia.managementMode: "
            "Managed), which runs its own. Two plugins fight over the kubelet socket and the GPU "
            "count; remove the DaemonSet, or use the device-plugin stack (aks-gpu:gpuStack).",
            r.urn,
        )
        for r in resources
        if _base_type(r.type) == DAEMONSET and looks_like_device_plugin(r.type, r.props)
    ]


# --- Rule: no privileged containers, no privilege escalation (resource) --------


def privilege_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Resource rule: privileged containers, privilege escalation, SYS_ADMIN/ALL, and hostPath mounts."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    what = _workload_name(resource_type, props)
    messages = []
    for container in _containers(spec):
        name = _str(container.get("name")) or "?"
        context = _mapping(container.get("securityContext"))
        if reveal(context.get("privileged")) is True:
            messages.append(
                f"{what}: container '{name}' is privileged (full access to the node and its GPUs). "
                "Set securityContext.privileged: false."
            )
        if reveal(context.get("allowPrivilegeEscalation")) is True:
            messages.append(f"{what}: container '{name}' sets allowPrivilegeEscalation: true. Set it to false.")
        added = {(_str(c) or "").upper() for c in _list(_get(context, "capabilities", "add"))}
        if added & _PRIVILEGED_CAPABILITIES:
            messages.append(
                f"{what}: container '{name}' adds {sorted(added & _PRIVILEGED_CAPABILITIES)}, "
                "which is as good as privileged. Drop them."
            )
    device_plugin = is_device_plugin(spec)
    for volume in map(_mapping, _list(spec.get("volumes"))):
        path = _str(_get(volume, "hostPath", "path"))
        if path is None:
            continue
        if device_plugin and path.rstrip("/") == DEVICE_PLUGIN_HOST_PATH:
            continue  # the kubelet's device-plugin socket: the one hostPath we allow
        messages.append(
            f"{what}: volume '{_str(volume.get('name')) or '?'}' mounts hostPath {path}. Only the "
            f"NVIDIA device plugin may mount a hostPath, and only {DEVICE_PLUGIN_HOST_PATH}."
        )
    return messages


# --- Rule: the kubeconfig is a secret (resource, remediation) ------------------


def kubeconfig_source_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """What can be checked without seeing secrecy (see `kubeconfig_secrecy_problem`).

    A provider with no kubeconfig, or a file path, reads whatever cluster the
    machine running Pulumi points at instead of the cluster this stack built.
    """
    if resource_type != K8S_PROVIDER:
        return []
    value = reveal(props.get("kubeconfig"))
    if is_unknown(value):
        return []
    if not isinstance(value, str) or not value.strip():
        return [
            "The Kubernetes provider has no kubeconfig, so it falls back to the KUBECONFIG or "
            "~/.kube/config of the machine running Pulumi. Pass the cluster's kubeconfig from the "
            "program (as a secret Output)."
        ]
    if "\n" not in value and not value.lstrip().startswith("{"):
        return [
            f"The Kubernetes provider's kubeconfig is a file path ({value!r}), so it targets "
            "whatever that file points at on the machine running Pulumi. Pass the cluster's "
            "kubeconfig contents from the program (as a secret Output)."
        ]
    return []


def kubeconfig_secrecy_problem(resource_type: str, raw_props: Mapping[str, Any]) -> str | None:
    """Why the provider's kubeconfig is not a secret, or None.

    `raw_props` must still carry the secret markers: the engine sends them to a
    policy pack, but pulumi-policy 1.21 strips them before a *validation* sees the
    inputs and keeps them only for a *remediation* (as `pulumi_policy.Secret`).
    """
    if resource_type != K8S_PROVIDER or "kubeconfig" not in raw_props:
        return None
    if is_secret(raw_props["kubeconfig"]):
        return None
    return (
        "The Kubernetes provider's kubeconfig is not a Pulumi secret, so its cluster credentials "
        "would be stored in plain text in the state. Wrap it with pulumi.Output.secret()."
    )


def remediate_kubeconfig_secret(resource_type: str, raw_props: Mapping[str, Any]) -> dict | None:
    """The provider's inputs with the kubeconfig marked secret, or None if it already is."""
    if kubeconfig_secrecy_problem(resource_type, raw_props) is None:
        return None
    return {**raw_props, "kubeconfig": Secret(raw_props["kubeconfig"])}


# --- Rule: the cluster has RBAC and a managed identity (resource) --------------


def cluster_identity_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Resource rule: the cluster enables Kubernetes RBAC and runs as a managed identity."""
    if resource_type != MANAGED_CLUSTER:
        return []
    messages = []
    rbac = reveal(props.get("enableRBAC"))
    if not is_unknown(rbac) and rbac is not True:
        setting = "does not set enableRBAC" if rbac is None else f"sets enableRBAC: {rbac!r}"
        messages.append(
            f"The cluster {setting}. Without Kubernetes RBAC every credential is cluster-admin; set enableRBAC: true."
        )
    identity_type = _get(props, "identity", "type")
    if not is_unknown(identity_type) and not (
        _eq(_str(identity_type), "SystemAssigned") or _eq(_str(identity_type), "UserAssigned")
    ):
        has = "has no identity" if identity_type is None else f"has identity type {identity_type!r}"
        messages.append(
            f"The cluster {has}. Use a managed identity (identity.type SystemAssigned or "
            "UserAssigned) so no service principal secret exists to leak or expire."
        )
    client_id = _get(props, "servicePrincipalProfile", "clientId")
    if client_id is not None and not is_unknown(client_id) and not _eq(_str(client_id), "msi"):
        messages.append(
            "The cluster sets servicePrincipalProfile with a client ID and secret. Remove it and "
            "use the managed identity."
        )
    return messages


# --- The pack --------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        name="gpu-vm-size-not-retired",
        description=(
            "Each GPU pool uses an NVIDIA GPU VM size from aks_gpu/facts/vm_sizes.py that AKS supports "
            "and Azure has not retired in the cluster's region."
        ),
        enforcement=MANDATORY,
        severity="high",
        scope="stack",
        check=gpu_vm_size_violations,
    ),
    Rule(
        name="gpu-vm-size-retiring-soon",
        description=(
            f"Warns when a GPU pool's VM size retires within {RETIREMENT_WARNING_DAYS} days in the cluster's region."
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
            "tolerate it land on GPU nodes."
        ),
        enforcement=MANDATORY,
        severity="medium",
        scope="resource",
        check=gpu_pool_taint_violations,
    ),
    Rule(
        name="gpu-workloads-request-gpu",
        description=(
            "Every workload scheduled onto a GPU pool (by the accelerator or agentpool label, or "
            "by tolerating the pool's taint) sets resources.limits['nvidia.com/gpu']; the NVIDIA "
            "device plugin is exempt."
        ),
        enforcement=MANDATORY,
        severity="medium",
        scope="stack",
        check=gpu_workload_violations,
    ),
    Rule(
        name="no-device-plugin-with-managed-gpu",
        description=(
            "No NVIDIA device plugin DaemonSet when a GPU pool uses the AKS-managed GPU stack, which installs its own."
        ),
        enforcement=MANDATORY,
        severity="high",
        scope="stack",
        check=device_plugin_conflict_violations,
    ),
    Rule(
        name="no-privileged-containers",
        description=(
            "No container is privileged, allows privilege escalation or adds SYS_ADMIN/ALL, and "
            "no pod mounts a hostPath except the NVIDIA device plugin's "
            f"{DEVICE_PLUGIN_HOST_PATH}."
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
        description="The AKS cluster enables Kubernetes RBAC and runs as a managed identity.",
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
