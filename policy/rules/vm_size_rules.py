"""Stack rules on GPU VM sizes: known, supported and not retired in the cluster's region, and soon-to-retire warnings.

The facts come from `aks_gpu/facts/vm_sizes.py`, the program's single source for
them; this module keeps no list of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from aks_gpu.facts import vm_sizes
from policy.rules.model import Resource, Violation, text, today_utc
from policy.rules.pools import Pool, cluster_locations, gpu_pools

# How far ahead the advisory rule warns about a GPU size's retirement: long
# enough to plan a node pool migration and a quota request for the successor.
RETIREMENT_WARNING_DAYS = 180


def vm_size_problem(vm_size: str, location: str | None, today: date) -> str | None:
    """Why `vm_size` cannot carry the GPU pool on `today` in `location`, or None."""
    reason = vm_sizes.unsupported_reason(vm_size)
    if reason:
        return f"{vm_size} cannot back an AKS GPU pool: {reason}."
    size = vm_sizes.find_gpu_vm_size(vm_size)
    # A size the catalog does not know is the program's to accept (with gpusPerNode) or
    # refuse; the advisory rule says its retirement date is unknown.
    if size is not None and size.is_retired(today, location):
        where = f" in {location}" if location else ""
        successor = f" Move to {size.successor}." if size.successor else ""
        return (
            f"{size.name} ({size.family}, {size.gpu_model}) was retired{where} on "
            f"{size.retirement_date(location)}; Azure no longer allocates it.{successor}"
        )
    return None


def _uncatalogued(vm_size: str) -> str:
    return (
        f"{vm_size} is not in the GPU VM size catalog (aks_gpu/facts/vm_sizes.py), so its GPU "
        "and retirement date are unknown. Pick a listed size, or add this one to the "
        "catalog with its source."
    )


def _pools_with_location(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Pool, str | None]]:
    by_name, only = cluster_locations(resources)
    for r, pool in gpu_pools(resources):
        location = pool.location if pool.inline else by_name.get((pool.cluster or "").lower(), only)
        yield r, pool, location


def gpu_vm_size_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule: GPU pools whose VM size is unknown, unsupported or retired in the cluster's region."""
    today = today or today_utc()
    violations = []
    for r, pool, location in _pools_with_location(resources):
        vm_size = text(pool.fields.get("vmSize"))
        if vm_size is None:
            continue  # unknown during preview; judged again when `up` registers it
        problem = vm_size_problem(vm_size, location, today)
        if problem:
            violations.append(Violation(f"GPU pool '{pool.name}': {problem}", r.urn))
    return violations


def gpu_vm_size_retiring_violations(resources: Sequence[Resource], today: date | None = None) -> list[Violation]:
    """Stack rule (advisory): GPU pools whose VM size retires within RETIREMENT_WARNING_DAYS, or is not catalogued."""
    today = today or today_utc()
    horizon = today + timedelta(days=RETIREMENT_WARNING_DAYS)
    violations = []
    for r, pool, location in _pools_with_location(resources):
        vm_size = text(pool.fields.get("vmSize"))
        size = vm_sizes.find_gpu_vm_size(vm_size or "")
        if vm_size and size is None and not vm_sizes.unsupported_reason(vm_size):
            violations.append(Violation(f"GPU pool '{pool.name}': {_uncatalogued(vm_size)}", r.urn))
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
