"""The Azure preflight against an ARM stand-in over HTTPS, with azure-mgmt-compute's own client and retries."""

from __future__ import annotations

import time
from datetime import date

import pytest
from azure.core.credentials import AccessToken

from aks_gpu.config.settings import parse_settings
from aks_gpu.preflight import check, identity
from tests.support.arm_stand_in import SUBSCRIPTION, TOKEN, ArmStandIn, make_tls, usage, vm_sku

T4 = "standardNCASv3_T4Family"
DDSV5 = "standardDDSv5Family"


class FakeCredential:
    """A TokenCredential that hands out the stand-in's token and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.calls += 1
        return AccessToken(TOKEN, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory):
    files = make_tls(tmp_path_factory.mktemp("arm-tls"))
    if files is None:
        pytest.skip("needs the openssl command to make test certificates")
    return files


def skus(**overrides) -> list[dict]:
    found = {
        "gpu": vm_sku("Standard_NC4as_T4_v3", T4, 4, 28, gpus=1),
        "system": vm_sku("Standard_D4ds_v5", DDSV5, 4, 16),
        "small": vm_sku("Standard_A1_v2", "standardAv2Family", 1, 2),
    }
    found.update(overrides)
    return [s for s in found.values() if s is not None]


def usages(t4=(0, 24), ddsv5=(0, 100), cores=(0, 100), spot=(0, 100)) -> list[dict]:
    return [
        usage(T4, *t4),
        usage(DDSV5, *ddsv5),
        usage("cores", *cores),
        usage("lowPriorityCores", *spot),
        usage("availabilitySets", 0, 2500),
    ]


def settings(**raw):
    return parse_settings(raw, location="eastus", today=date(2026, 11, 29))


def run(stand_in: ArmStandIn, tls, credential=None, **raw) -> check.Outcome:
    found = identity.Identity(credential or FakeCredential(), SUBSCRIPTION, "test credential")
    options = {
        "base_url": stand_in.url,
        "connection_verify": tls.ca_cert,
        "retry_backoff_factor": 0.01,
        "retry_backoff_max": 0.05,
    }
    return check.run(settings(**raw), {}, {}, found=found, client_options=options)


def test_enough_quota_passes(tls):
    with ArmStandIn(tls, skus(), usages()) as arm:
        outcome = run(arm, tls)
    assert outcome.problems == [] and outcome.skipped == ""
    assert any(path.endswith("/skus") for path in arm.requests)
    assert any(path.endswith("/locations/eastus/usages") for path in arm.requests)
    assert set(arm.authorizations) == {f"Bearer {TOKEN}"}


def test_family_quota_short_names_family_region_and_numbers(tls):
    # 1 GPU node at the floor x 4 vCPUs = 4 needed; 21 of 24 in use leaves 3.
    with ArmStandIn(tls, skus(), usages(t4=(21, 24))) as arm:
        outcome = run(arm, tls)
    [problem] = outcome.problems
    assert f"vCPU quota {T4} in eastus is too small" in problem
    assert "needs 4 vCPUs" in problem and "only 3 are available" in problem and "(limit 24, 21 in use)" in problem
    assert "az quota update" in problem and "value=25" in problem and f"/subscriptions/{SUBSCRIPTION}/" in problem


def test_a_one_node_t4_pool_fits_the_common_4_vcpu_quota_with_a_surge_warning(tls):
    # Azure creates the pool in a 4-vCPU family quota; only a later upgrade's surge node would not fit.
    with ArmStandIn(tls, skus(), usages(t4=(0, 4))) as arm:
        outcome = run(arm, tls)
    assert outcome.problems == []
    [warning] = outcome.warnings
    assert f"vCPU quota {T4}" in warning and "needs 8 vCPUs" in warning and "1 at its floor + 1 surge" in warning
    assert "upgrades fail" in warning


def test_no_surge_warning_when_the_quota_holds_the_surge_node(tls):
    with ArmStandIn(tls, skus(), usages()) as arm:
        outcome = run(arm, tls)
    assert outcome.problems == [] and outcome.warnings == ()


def test_regional_total_counts_both_pools(tls):
    # GPU 1 x 4 + system 1 x 4 = 8 regional vCPUs at the floors; 93 of 100 in use leaves 7.
    with ArmStandIn(tls, skus(), usages(cores=(93, 100))) as arm:
        outcome = run(arm, tls)
    [problem] = outcome.problems
    assert "vCPU quota cores in eastus" in problem and "needs 8 vCPUs" in problem and "only 7" in problem


def test_spot_pool_draws_on_the_spot_quota_only(tls):
    with ArmStandIn(tls, skus(), usages(t4=(24, 24), spot=(96, 100))) as arm:
        outcome = run(arm, tls, gpuSpot="true", gpuMinCount="2", gpuMaxCount="3")
    [problem] = outcome.problems
    # 2 nodes at the floor x 4 = 8 Spot vCPUs; the full T4 family quota does not matter.
    assert "lowPriorityCores" in problem and "needs 8 vCPUs" in problem and "only 4" in problem
    assert "--resource-type lowPriority" in problem and T4 not in problem.split("(")[0]


def test_size_not_offered_in_the_region(tls):
    with ArmStandIn(tls, skus(gpu=None), usages()) as arm:
        outcome = run(arm, tls)
    [problem] = outcome.problems
    assert "aks-gpu:gpuVmSize = Standard_NC4as_T4_v3: the size is not offered in eastus" in problem
    assert "az vm list-skus --location eastus --size Standard_NC4as_T4_v3" in problem


def test_size_restricted_for_the_subscription(tls):
    restricted = vm_sku(
        "Standard_NC4as_T4_v3",
        T4,
        4,
        28,
        restrictions=[
            {
                "type": "Location",
                "values": ["eastus"],
                "restrictionInfo": {"locations": ["eastus"]},
                "reasonCode": "NotAvailableForSubscription",
            }
        ],
    )
    with ArmStandIn(tls, skus(gpu=restricted), usages()) as arm:
        outcome = run(arm, tls)
    [problem] = outcome.problems
    assert "does not offer the size to this subscription (NotAvailableForSubscription)" in problem


def test_zone_restriction_only_matters_for_requested_zones(tls):
    zoned = vm_sku(
        "Standard_NC4as_T4_v3",
        T4,
        4,
        28,
        zones=("1", "2"),
        restrictions=[{"type": "Zone", "values": ["eastus"], "restrictionInfo": {"zones": ["2"]}}],
    )
    with ArmStandIn(tls, skus(gpu=zoned), usages()) as arm:
        # The program declares no zones: only region restrictions count.
        assert run(arm, tls).problems == []
        client_skus, _ = check.read_region(_client(arm, tls), "eastus", ["Standard_NC4as_T4_v3"])
    from aks_gpu.preflight import demand

    pool = demand.PoolDemand("GPU pool", "gpuVmSize", "Standard_NC4as_T4_v3", 1)
    problems = demand.availability_problems(pool, client_skus[0], "eastus", ("2", "3"))
    assert problems == ["aks-gpu:gpuVmSize = Standard_NC4as_T4_v3: the size is not available in zone(s) 2, 3 of eastus"]


def _client(arm: ArmStandIn, tls):
    from azure.mgmt.compute import ComputeManagementClient

    return ComputeManagementClient(FakeCredential(), SUBSCRIPTION, base_url=arm.url, connection_verify=tls.ca_cert)


def test_system_pool_size_too_small(tls):
    with ArmStandIn(tls, skus(), usages()) as arm:
        outcome = run(arm, tls, systemVmSize="Standard_A1_v2")
    [problem] = outcome.problems
    assert "aks-gpu:systemVmSize = Standard_A1_v2: a system pool needs at least 2 vCPUs and 4 GiB" in problem
    assert "has 1 vCPUs and 2 GiB" in problem


@pytest.mark.parametrize("status", [429, 500])
def test_arm_failures_are_retried_then_reported(tls, status):
    with ArmStandIn(tls, skus(), usages()) as arm:
        arm.fail_next(2, status)
        assert run(arm, tls).problems == []  # two failures, then the retry succeeds
        first = len(arm.requests)
        arm.fail_next(100, status)
        started = time.monotonic()
        outcome = run(arm, tls)
    [problem] = outcome.problems
    assert f"HTTP {status}" in problem and "also after retrying" in problem
    assert "pulumi config set aks-gpu:preflight false" in problem
    retries = len(arm.requests) - first
    assert retries == 1 + check.RETRY_SETTINGS["retry_total"] and time.monotonic() - started < 10


def test_forbidden_skips_with_the_role_to_grant(tls):
    with ArmStandIn(tls, skus(), usages()) as arm:
        arm.fail_next(1, 403)
        outcome = run(arm, tls)
    assert outcome.problems == [] and "HTTP 403" in outcome.skipped and "Reader role" in outcome.skipped


def test_no_credentials_skips_with_a_reason():
    outcome = check.run(settings(), {}, {})
    assert outcome.problems == [] and outcome.skipped.startswith("no subscription")
    found, why = identity.identity(identity.Settings({"subscriptionId": SUBSCRIPTION}, {}), which=lambda _: None)
    assert found is None and why.startswith("no Azure credentials")
