"""AKS agent pools wherever a stack declares them, and the taints that keep ordinary pods off GPU nodes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aks_gpu.facts.kubernetes import ACCELERATOR_LABEL, HARD_TAINT_EFFECTS, SPOT_TAINT, Taint
from policy.rules.arm import ArmObject, arm_objects
from policy.rules.model import Resource, get, items, mapping, same, text


@dataclasses.dataclass(frozen=True)
class Pool:
    """An AKS agent pool, wherever the program declared it.

    `inline`: one of a cluster's `agentPoolProfiles`, whose `location` is the cluster's.
    """

    name: str
    fields: Mapping[str, Any]  # the camelCase agent pool properties
    cluster: str | None  # the cluster's name, when the resource says
    inline: bool = False
    location: str | None = None


def agent_pools(resource_type: str, props: Mapping[str, Any]) -> list[Pool]:
    """The agent pools a resource declares, in any form (`arm.arm_objects`): pools, and clusters' inline pools."""
    pools = []
    for found in arm_objects(resource_type, props):
        if found.kind == "pool":
            pools.append(Pool(found.name or "?", found.fields, found.cluster))
            continue
        for profile in map(mapping, items(found.fields.get("agentPoolProfiles"))):
            if profile:
                pools.append(Pool(text(profile.get("name")) or "?", profile, found.name, True, found.location))
    return pools


def clusters(resource_type: str, props: Mapping[str, Any]) -> list[ArmObject]:
    """The AKS clusters a resource declares, in any form (`arm.arm_objects`)."""
    return [found for found in arm_objects(resource_type, props) if found.kind == "cluster"]


def is_gpu_pool(fields: Mapping[str, Any]) -> bool:
    """A pool meant for GPUs: an N-series size, a GPU profile, or the GPU label."""
    vm_size = text(fields.get("vmSize")) or ""
    labels = mapping(fields.get("nodeLabels"))
    key, value = ACCELERATOR_LABEL
    return (
        vm_size.lower().startswith("standard_n")
        or fields.get("gpuProfile") is not None
        or fields.get("gpuInstanceProfile") is not None
        or text(labels.get(key)) == value
    )


def is_managed_gpu_pool(fields: Mapping[str, Any]) -> bool:
    """AKS installs and runs the NVIDIA stack itself (gpuProfile.nvidia.managementMode)."""
    return same(text(get(fields, "gpuProfile", "nvidia", "managementMode")), "Managed")


def cluster_locations(resources: Sequence[Resource]) -> tuple[dict[str, str], str | None]:
    """Cluster name (lower case) -> location, and the location if there is just one cluster."""
    by_name: dict[str, str] = {}
    locations = []
    for r in resources:
        for cluster in clusters(r.type, r.props):
            if cluster.location is None:
                continue
            locations.append(cluster.location)
            if cluster.name:
                by_name[cluster.name.lower()] = cluster.location
    return by_name, locations[0] if len(locations) == 1 else None


def gpu_pools(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Pool]]:
    """Each GPU pool of the stack with the resource that declares it.

    A cluster's outputs list every agent pool, including the ones the stack
    declares as resources of their own; those are reported once, on their own URN.
    """
    standalone = [pool for r in resources for pool in agent_pools(r.type, r.props) if not pool.inline]
    for r in resources:
        for pool in agent_pools(r.type, r.props):
            if pool.inline and any(_same_pool(pool, other) for other in standalone):
                continue
            if is_gpu_pool(pool.fields):
                yield r, pool


def _same_pool(inline: Pool, standalone: Pool) -> bool:
    """A cluster's inline pool is the pool declared on its own: same name, same cluster (or a cluster not known)."""
    if inline.name != standalone.name:
        return False
    return inline.cluster is None or standalone.cluster is None or same(inline.cluster, standalone.cluster)


def parse_taint(value: str) -> Taint | None:
    """AKS's `key=value:Effect` (or `key:Effect`) form; None when malformed."""
    return Taint.try_parse(value)


def gpu_taints(fields: Mapping[str, Any]) -> list[Taint]:
    """The pool's taints that keep ordinary pods off.

    The AKS spot taint does not count: every spot pool carries it and it says nothing about GPUs.
    """
    taints = []
    for value in items(fields.get("nodeTaints")):
        taint = parse_taint(text(value) or "")
        if taint and taint.effect in HARD_TAINT_EFFECTS and taint != SPOT_TAINT:
            taints.append(taint)
    return taints


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """Kubernetes' toleration matching (core/v1 Toleration semantics)."""
    return taint.tolerated_by({key: text(toleration.get(key)) for key in ("key", "operator", "value", "effect")})


def tolerates_by_key(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """The toleration names this taint's key: a deliberate choice of these nodes.

    A key-less `operator: Exists` tolerates every taint of every node; pods that
    say so (node agents, log shippers) are allowed onto GPU nodes, not aimed at them.
    """
    return bool(text(toleration.get("key"))) and tolerates(toleration, taint)
