"""Whole-program refusals: a bad value, a pool name an existing cluster already uses, the preflight's warning."""

from __future__ import annotations

import pytest

from aks_gpu.config.validate import OWNER_TAG, existing_pool_conflict
from tests.support import harness
from tests.support.harness import run_program

EXISTING = {
    "existingClusterName": "prod",
    "existingClusterResourceGroup": "prod-rg",
    "resourceGroupName": "",
    "clusterName": "",
}


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"gpuNodeLabels": ["node-role.kubernetes.io/gpu=true"]}, "gpuNodeLabels"),
        ({"gpuNodeTaints": ["sku=gpu:NoSchedule", "sku=cpu:NoSchedule"]}, "gpuNodeTaints"),
        ({"devicePluginImage": "nvcr.io/NVIDIA/k8s-device-plugin:v0.18.0"}, "devicePluginImage"),
        ({"gpuSpot": True, "gpuSpotMaxPrice": "nan"}, "gpuSpotMaxPrice"),
        ({"gpuNamespace": "kube-system"}, "gpuNamespace"),
        ({"gpuNodeTaints": "[" * 100_000 + "]" * 100_000}, "gpuNodeTaints"),
    ],
)
def test_bad_values_stop_the_program_before_any_resource(overrides, key):
    with pytest.raises(Exception) as error:
        run_program(overrides, preview=True)
    assert f"aks-gpu:{key} = " in str(error.value)
    assert error.value.run.resources == []


@pytest.mark.parametrize("preview", [True, False])
def test_pool_name_of_an_existing_clusters_system_pool_is_refused(preview):
    with pytest.raises(Exception) as error:
        run_program({**EXISTING, "gpuPoolName": "nodepool1"}, preview=preview)
    assert 'aks-gpu:gpuPoolName = "nodepool1" is not allowed' in str(error.value)
    assert "System pool" in str(error.value)
    # No Azure or Kubernetes resource was registered: the pool waited for the check.
    assert [r.type for r in error.value.run.resources if not r.type.startswith("aks-gpu:")] == []


def test_existing_cluster_gpu_pool_is_tagged_with_its_stack(monkeypatch):
    run = run_program(EXISTING, preview=True)
    pool = run.one("azure-native:containerservice:AgentPool")
    assert pool.plain_inputs["tags"] == {OWNER_TAG: "aks-gpu/dev"}
    # On the next run the cluster reports that pool: it is this stack's own, not a collision.
    own = {"name": "gpu", "mode": "User", "vmSize": "Standard_NC4as_T4_v3", "tags": {OWNER_TAG: "aks-gpu/dev"}}
    monkeypatch.setattr(harness, "EXISTING_POOLS", [*harness.EXISTING_POOLS, own])
    run_program(EXISTING, preview=True)


def test_the_preflight_skips_with_a_warning_without_azure_sign_in():
    run = run_program(preview=True)
    assert any(w.startswith("Azure preflight skipped") and "no subscription" in w for w in run.warnings)
    assert run.resources  # a skipped preflight never stops the program
    off = run_program({"preflight": False}, preview=True)
    assert not any("preflight" in w for w in off.warnings)


SYSTEM = {"name": "nodepool1", "mode": "System", "vmSize": "Standard_D4ds_v5"}
T4 = "Standard_NC4as_T4_v3"


@pytest.mark.parametrize(
    "name, profiles, fragment",
    [
        ("nodepool1", [SYSTEM], "System pool"),
        ("gpu", [{**SYSTEM, "name": "GPU"}], "System pool"),
        ("gpu", [{"name": "gpu", "mode": "System", "vmSize": "Standard_NC4as_T4_v3"}], "System pool"),
        ("gpu", [{"name": "gpu", "mode": "User", "vmSize": T4, "tags": {OWNER_TAG: "x/prod"}}], "x/prod"),
        ("gpu", [{"name": "gpu", "mode": "User", "vmSize": "Standard_NC64as_T4_v3"}], "did not create"),
        ("gpu", [{"name": "gpu", "mode": "User", "vmSize": "Standard_NC64as_T4_v3", "tags": {}}], "did not create"),
    ],
)
def test_existing_pool_conflicts(name, profiles, fragment):
    problem = existing_pool_conflict(name, T4, profiles, "aks-gpu/dev")
    assert problem is not None and fragment in problem


def test_free_or_own_pool_names_pass():
    own = {"name": "gpu", "mode": "User", "vmSize": "Standard_NC4as_T4_v3", "tags": {OWNER_TAG: "aks-gpu/dev"}}
    assert existing_pool_conflict("gpu", "Standard_NC4as_T4_v3", [SYSTEM], "aks-gpu/dev") is None
    assert existing_pool_conflict("gpu", "Standard_NC64as_T4_v3", [SYSTEM, own], "aks-gpu/dev") is None
    # A User pool of the configured size from before the tag existed (an earlier release of this stack).
    legacy = {"name": "gpu", "mode": "User", "vmSize": T4}
    assert existing_pool_conflict("gpu", T4, [SYSTEM, legacy], "aks-gpu/dev") is None


@pytest.mark.parametrize("preview", [True, False])
def test_a_managed_pool_on_an_existing_cluster_older_than_1_34_is_refused(preview):
    with pytest.raises(Exception) as error:
        run_program({**EXISTING, "gpuStack": "managed"}, preview=preview, existing_version="1.33.5")
    text = str(error.value)
    assert 'aks-gpu:gpuStack = "managed" is not allowed on the existing cluster prod (Kubernetes 1.33.5)' in text
    assert "1.34 or later" in text and "az aks upgrade --kubernetes-version 1.34" in text
    assert [r.type for r in error.value.run.resources if not r.type.startswith("aks-gpu:")] == []


def test_a_managed_pool_on_an_existing_1_34_cluster_and_a_device_plugin_pool_on_1_33_pass():
    assert run_program({**EXISTING, "gpuStack": "managed"}, preview=True, existing_version="1.34.0").resources
    assert run_program(EXISTING, preview=True, existing_version="1.33.5").one("azure-native:containerservice:AgentPool")


def test_an_upgrade_surge_that_does_not_fit_the_quota_is_a_warning(monkeypatch):
    from aks_gpu.components import preflight
    from aks_gpu.preflight import check

    surge = "vCPU quota standardNCASv3_T4Family in eastus is too small: ... without room for it upgrades fail."
    monkeypatch.setattr(check, "run", lambda *args, **kwargs: check.Outcome([], warnings=(surge,)))
    monkeypatch.setattr(preflight.check, "run", check.run)
    run = run_program(preview=True)
    assert f"Azure preflight: {surge}" in run.warnings and run.resources
