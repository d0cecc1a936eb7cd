"""What the stack's pools need from the region, and the pure rules that compare it with Azure's answers.

Quota names are those of `GET .../locations/{region}/usages`: each VM family has
its own vCPU quota (e.g. standardNCASv3_T4Family), `cores` is the regional total
of regular VMs and `lowPriorityCores` holds every Spot VM instead of both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from aks_gpu.config.settings import Settings

REGIONAL_QUOTA = "cores"
SPOT_QUOTA = "lowPriorityCores"
# AKS's floor for a system pool's VM size (use-system-pools.md).
SYSTEM_POOL_MIN_VCPUS = 2
SYSTEM_POOL_MIN_MEMORY_GB = 4.0
# Nodes an upgrade adds on top of a pool's floor (AKS max surge: at least one node).
# Creating the pools does not need them, so a quota without room for them is a
# warning about later upgrades, never a refusal of the stack.
SURGE_NODES = 1


@dataclasses.dataclass(frozen=True)
class Sku:
    """One VM size as the region's resource SKU list describes it."""

    name: str
    family: str
    vcpus: int
    memory_gb: float
    zones: tuple[str, ...] = ()
    # Why the region refuses the size to this subscription (reason codes), empty when it does not.
    region_restrictions: tuple[str, ...] = ()
    # Zones the size is restricted in for this subscription.
    restricted_zones: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Usage:
    """One vCPU quota of the subscription in the region."""

    name: str
    current: int
    limit: int

    @property
    def available(self) -> int:
        """vCPUs still free under the quota."""
        return max(0, self.limit - self.current)


@dataclasses.dataclass(frozen=True)
class PoolDemand:
    """A pool this stack creates: its config key, size and node count at its floor."""

    role: str
    key: str
    vm_size: str
    floor_nodes: int
    spot: bool = False
    system: bool = False

    def nodes(self, surge: bool) -> int:
        """Nodes the quota must hold: the floor, and with `surge` the node an upgrade adds."""
        return self.floor_nodes + (SURGE_NODES if surge else 0)


def demands(settings: Settings) -> list[PoolDemand]:
    """The pools this stack creates: the GPU pool, and the system pool of a new cluster."""
    pool = settings.gpu_pool
    found = [PoolDemand("GPU pool", "gpuVmSize", pool.vm_size, pool.floor_nodes, spot=pool.spot)]
    if settings.cluster.existing is None:
        cluster = settings.cluster
        found.append(
            PoolDemand("system pool", "systemVmSize", cluster.system_vm_size, cluster.system_node_count, system=True)
        )
    return found


def find_sku(skus: Iterable[Sku], name: str) -> Sku | None:
    """The SKU named `name`, compared case-insensitively as Azure does."""
    return next((sku for sku in skus if sku.name.lower() == name.lower()), None)


def availability_problems(demand: PoolDemand, sku: Sku | None, region: str, zones: tuple[str, ...]) -> list[str]:
    """Why the region cannot run the pool's size (not offered, restricted, too small for a system pool)."""
    where = f"aks-gpu:{demand.key} = {demand.vm_size}"
    listing = f"az vm list-skus --location {region} --size {demand.vm_size} --output table"
    if sku is None:
        return [f"{where}: the size is not offered in {region} (see {listing}); choose another size or region"]
    if sku.region_restrictions:
        return [
            f"{where}: {region} does not offer the size to this subscription "
            f"({', '.join(sku.region_restrictions)}); see {listing}, or ask for access with a support request"
        ]
    problems = []
    blocked = sorted((set(zones) & set(sku.restricted_zones)) | (set(zones) - set(sku.zones)))
    if blocked:
        problems.append(f"{where}: the size is not available in zone(s) {', '.join(blocked)} of {region}")
    if demand.system and (sku.vcpus < SYSTEM_POOL_MIN_VCPUS or sku.memory_gb < SYSTEM_POOL_MIN_MEMORY_GB):
        problems.append(
            f"{where}: a system pool needs at least {SYSTEM_POOL_MIN_VCPUS} vCPUs and "
            f"{SYSTEM_POOL_MIN_MEMORY_GB:g} GiB of memory; {sku.name} has {sku.vcpus} vCPUs and {sku.memory_gb:g} GiB"
        )
    return problems


def needed_vcpus(
    demands_with_skus: Iterable[tuple[PoolDemand, Sku]], *, surge: bool = False
) -> dict[str, tuple[int, list[str]]]:
    """vCPUs each quota must still hold, with the pools that draw on it (Spot pools draw on lowPriorityCores).

    Without `surge`, what creating the pools needs; with it, what an upgrade needs on top.
    """
    needs: dict[str, tuple[int, list[str]]] = {}

    def add(quota: str, vcpus: int, why: str) -> None:
        total, whys = needs.get(quota, (0, []))
        needs[quota] = (total + vcpus, [*whys, why])

    for demand, sku in demands_with_skus:
        nodes = demand.nodes(surge)
        vcpus = nodes * sku.vcpus
        counted = f"{demand.floor_nodes} at its floor + {SURGE_NODES} surge" if surge else "at its floor"
        plural = "s" if nodes != 1 else ""
        why = f"{demand.role} {sku.name}: {nodes} node{plural} ({counted}) x {sku.vcpus} vCPUs = {vcpus}"
        if demand.spot:
            add(SPOT_QUOTA, vcpus, why)
        else:
            add(sku.family, vcpus, why)
            add(REGIONAL_QUOTA, vcpus, why)
    return needs


def quota_problems(
    needs: Mapping[str, tuple[int, list[str]]], usages: Mapping[str, Usage], region: str, subscription: str
) -> list[str]:
    """One line per quota that cannot hold what the pools need, with the numbers and how to ask for more."""
    problems = []
    for quota, (vcpus, whys) in needs.items():
        usage = usages.get(quota.lower())
        if usage is None or vcpus <= usage.available:
            continue
        kind = "lowPriority" if quota == SPOT_QUOTA else "dedicated"
        wanted = usage.current + vcpus
        scope = f"/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{region}"
        problems.append(
            f"vCPU quota {quota} in {region} is too small: the stack needs {vcpus} vCPUs "
            f"({'; '.join(whys)}) but only {usage.available} are available "
            f"(limit {usage.limit}, {usage.current} in use). Ask for a limit of at least {wanted}: "
            f"az quota update --resource-name {quota} --resource-type {kind} --limit-object value={wanted} "
            f"--scope {scope} (or Azure portal > Quotas > Compute, filtered to the region and the quota name)"
        )
    return problems


def evaluate(
    pools: Iterable[PoolDemand],
    skus: Iterable[Sku],
    usages: Iterable[Usage],
    *,
    region: str,
    subscription: str,
    zones: tuple[str, ...] = (),
) -> list[str]:
    """Every reason the region or the subscription's quota cannot hold the pools; empty when they can."""
    skus = list(skus)
    problems: list[str] = []
    sized: list[tuple[PoolDemand, Sku]] = []
    for demand in pools:
        sku = find_sku(skus, demand.vm_size)
        found = availability_problems(demand, sku, region, zones)
        problems += found
        if sku is not None and not found:
            sized.append((demand, sku))
    by_name = {usage.name.lower(): usage for usage in usages}
    return problems + quota_problems(needed_vcpus(sized), by_name, region, subscription)


def surge_warnings(
    pools: Iterable[PoolDemand], skus: Iterable[Sku], usages: Iterable[Usage], *, region: str, subscription: str
) -> list[str]:
    """Quotas that hold the pools but not an upgrade's surge node: later upgrades would stall, creating works."""
    skus = list(skus)
    sized = [(p, sku) for p in pools if (sku := find_sku(skus, p.vm_size)) is not None]
    by_name = {usage.name.lower(): usage for usage in usages}
    short = quota_problems(needed_vcpus(sized, surge=True), by_name, region, subscription)
    return [
        f"{line} An upgrade adds {SURGE_NODES} surge node per pool; without room for it upgrades fail."
        for line in short
    ]
