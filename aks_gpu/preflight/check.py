"""Reads the region's compute usages and resource SKUs with azure-mgmt-compute and applies `demand`'s rules.

`run` never raises for a missing sign-in: without credentials (tests, offline
machines) it returns a skip reason for the program to log. What it cannot read
because Azure Resource Manager keeps failing (429, 5xx after the SDK's retries)
becomes a problem, since `pulumi up` would run into the same trouble.

azure-core and azure-mgmt-compute are imported only once an identity is
found, inside `run`: loading them costs every `pulumi preview` about 0.35 s
and 33 MiB (issue 19), also with `preflight: false` or without a sign-in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aks_gpu.config.settings import Settings
from aks_gpu.preflight import demand, identity

if TYPE_CHECKING:  # the SDK itself is imported where it is used: see the module docstring
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.compute import ComputeManagementClient

# Bounded retries so a throttled preview answers within about half a minute.
RETRY_SETTINGS: dict[str, Any] = {
    "retry_total": 4,
    "retry_status": 4,
    "retry_backoff_factor": 1.0,
    "retry_backoff_max": 8,
}
TURN_OFF = "pulumi config set aks-gpu:preflight false"
# Built-in role that can read usages and SKUs (Microsoft.Compute/locations/usages/read, Microsoft.Compute/skus/read).
READER_ROLE = "Reader"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the preflight found: problems that stop the stack, warnings, or why it did not check."""

    problems: list[str]
    skipped: str = ""
    warnings: tuple[str, ...] = ()


def _capabilities(sku: Any) -> dict[str, str]:
    return {c.name: c.value for c in sku.capabilities or [] if c.name and c.value is not None}


def _number(text: str | None, convert: type) -> Any:
    try:
        return convert(text)
    except (TypeError, ValueError):
        return convert(0)


def to_sku(sku: Any, region: str) -> demand.Sku:
    """The SDK's ResourceSku as `demand.Sku`, restrictions narrowed to `region`."""
    capabilities = _capabilities(sku)
    zones = [z for info in sku.location_info or [] if _same(info.location, region) for z in info.zones or []]
    region_reasons: list[str] = []
    restricted_zones: list[str] = []
    for restriction in sku.restrictions or []:
        info = restriction.restriction_info
        kind = _plain(restriction.type).lower()
        if kind == "location":
            region_reasons.append(_plain(restriction.reason_code) or "restricted")
        elif kind == "zone" and info is not None:
            restricted_zones += info.zones or []
    return demand.Sku(
        name=sku.name or "",
        family=sku.family or "",
        vcpus=_number(capabilities.get("vCPUs"), int),
        memory_gb=_number(capabilities.get("MemoryGB"), float),
        zones=tuple(sorted(zones)),
        region_restrictions=tuple(region_reasons),
        restricted_zones=tuple(sorted(restricted_zones)),
    )


def _plain(value: Any) -> str:
    # The SDK's enums are str subclasses whose str() is the member's name, not the wire value.
    return str(getattr(value, "value", value) or "")


def _same(location: str | None, region: str) -> bool:
    return (location or "").replace(" ", "").lower() == region.replace(" ", "").lower()


def read_region(
    client: ComputeManagementClient, region: str, sizes: Iterable[str]
) -> tuple[list[demand.Sku], list[demand.Usage]]:
    """The region's SKUs of the wanted sizes and the subscription's usages there."""
    wanted = {size.lower() for size in sizes}
    skus = [
        to_sku(sku, region)
        for sku in client.resource_skus.list(filter=f"location eq '{region}'")
        if sku.resource_type == "virtualMachines" and (sku.name or "").lower() in wanted
    ]
    usages = [
        demand.Usage(usage.name.value or "", usage.current_value, usage.limit)
        for usage in client.usage.list(region)
        if usage.name is not None
    ]
    return skus, usages


def run(
    settings: Settings,
    provider_config: Mapping[str, str | None],
    env: Mapping[str, str],
    *,
    found: identity.Identity | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> Outcome:
    """Check the stack's pools against the region; `found` and `client_options` let tests point it elsewhere."""
    region = settings.cluster.location
    if region is None:  # settings allow it only with an existing cluster
        return Outcome([], skipped="the existing cluster's region is only known after it is read")
    if found is None:
        found, why = identity.identity(identity.Settings(provider_config, env))
        if found is None:
            return Outcome([], skipped=why)
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
    from azure.mgmt.compute import ComputeManagementClient

    client = ComputeManagementClient(
        found.credential, found.subscription_id, **{**RETRY_SETTINGS, **(client_options or {})}
    )
    pools = demand.demands(settings)
    try:
        skus, usages = read_region(client, region, [p.vm_size for p in pools])
    except ClientAuthenticationError as error:
        return Outcome([], skipped=f"could not sign in as {found.source}: {_first_line(error)}")
    except ServiceRequestError as error:
        return Outcome([], skipped=f"could not reach Azure Resource Manager: {_first_line(error)}")
    except HttpResponseError as error:
        return _arm_failure(error, region, found)
    problems = demand.evaluate(pools, skus, usages, region=region, subscription=found.subscription_id)
    warnings = (
        ()
        if problems
        else tuple(demand.surge_warnings(pools, skus, usages, region=region, subscription=found.subscription_id))
    )
    return Outcome(problems, warnings=warnings)


def _arm_failure(error: HttpResponseError, region: str, found: identity.Identity) -> Outcome:
    status = error.status_code
    if status in (401, 403):
        return Outcome(
            [],
            skipped=(
                f"{found.source} may not read compute usages and VM sizes in {region} (HTTP {status}); "
                f"the {READER_ROLE} role on the subscription allows it"
            ),
        )
    return Outcome(
        [
            f"preflight: Azure Resource Manager kept failing while reading compute usages and VM sizes in {region} "
            f"(HTTP {status}: {_first_line(error)}), also after retrying. Try again later, or skip the check "
            f"with: {TURN_OFF}"
        ]
    )


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
