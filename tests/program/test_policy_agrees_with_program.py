"""The policy pack agrees with the program: whatever config the program accepts, its stack passes every rule.

Each configuration runs the real `__main__.py` under the mock engine; a
configuration the program refuses (a SettingsError before anything is
registered) needs no policy. The configurations span what the program accepts:
every MIG profile with the mixed strategy and the single one on every
MIG-capable size of the catalog, with the device-plugin stack and the
AKS-managed one; Entra ID, an existing cluster, Spot and scale from zero, alone
and with MIG. No rule may refuse, mandatory or advisory, except the advisory
findings `expected_advisories` explains. The pack is run twice over each stack:
in process (`rules.evaluate`, on a fixed date) and booted as the Pulumi CLI boots
it, over gRPC (`tests.support.policy_server`), on the server's own clock.
NaN and Infinity anywhere in the real stack never crash the rules.
"""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from typing import Any

import pytest

from aks_gpu.facts import device_plugin, vm_sizes
from aks_gpu.facts.azure import MIG_PROFILES as AKS_MIG_PROFILES
from aks_gpu.facts.kubernetes import HARD_TAINT_EFFECTS, SPOT_TAINT, Taint
from policy import rules
from policy.rules import Resource
from tests.support.policy_server import booted_pack
from tests.support.policy_stack import AGENT_POOL, JOB, PROVIDER, TODAY, find, program_stack

EXISTING_CLUSTER = {
    "resourceGroupName": "",
    "clusterName": "",
    "existingClusterName": "prodAKS",
    "existingClusterResourceGroup": "rg",
}
GPU_STACKS = ("device-plugin", "managed")
MIG_SIZES = [s.name for s in vm_sizes.GPU_VM_SIZES.values() if s.mig_capable]
SCALE_FROM_ZERO = {"gpuMinCount": 0, "gpuMaxCount": 3}
SPOT = {"gpuSpot": True, "gpuSpotMaxPrice": "0.5"}


def mig_configurations() -> list[tuple[str, dict[str, Any]]]:
    """On every MIG-capable size with both GPU stacks: every profile with the mixed strategy (each GPU
    model's slice names differ), and one profile in turn with the single strategy (which advertises
    nvidia.com/gpu whatever the profile)."""
    found = []
    for (index, size), stack in itertools.product(enumerate(MIG_SIZES), GPU_STACKS):
        single = AKS_MIG_PROFILES[index % len(AKS_MIG_PROFILES)]
        for profile, strategy in [*((p, "mixed") for p in AKS_MIG_PROFILES), (single, "single")]:
            overrides = {"gpuVmSize": size, "gpuMigProfile": profile, "gpuMigStrategy": strategy, "gpuStack": stack}
            found.append((f"{size}-{profile}-{strategy}-{stack}", overrides))
    return found


def combined_configurations() -> list[tuple[str, dict[str, Any]]]:
    """Entra ID, an existing cluster, Spot and scale from zero, with each GPU stack and with mixed MIG."""
    mixed = {"gpuVmSize": "Standard_NC96ads_A100_v4", "gpuMigProfile": "MIG3g", "gpuMigStrategy": "mixed"}
    found = []
    for stack in GPU_STACKS:
        base = {"gpuStack": stack}
        found += [
            (f"entra-{stack}", {**base, "entraId": True}),
            (f"entra-mig-{stack}", {**base, **mixed, "entraId": True}),
            (f"existing-{stack}", {**base, **EXISTING_CLUSTER}),
            (f"existing-mig-{stack}", {**base, **mixed, **EXISTING_CLUSTER}),
            (f"spot-{stack}", {**base, **SPOT}),
            (f"spot-mig-{stack}", {**base, **SPOT, **mixed}),
            (f"scale-from-zero-{stack}", {**base, **SCALE_FROM_ZERO}),
            (f"spot-scale-from-zero-mig-{stack}", {**base, **SPOT, **SCALE_FROM_ZERO, **mixed}),
            (f"mnist-mig-{stack}", {**base, **mixed, "sampleWorkload": "mnist"}),
            (f"existing-spot-{stack}", {**base, **EXISTING_CLUSTER, **SPOT}),
        ]
    return found


def configurations() -> list[tuple[str, dict[str, Any]]]:
    """Many configurations a user might write, most accepted by the program, some refused."""
    sizes = [*vm_sizes.GPU_VM_SIZES, *vm_sizes.UNSUPPORTED_GPU_VM_SIZES, "Standard_ND96isr_MI300X_v5"]
    found = [
        (f"{size}-{stack}", {"gpuVmSize": size, "gpuStack": stack, "gpusPerNode": 1})
        for size, stack in itertools.product(sizes, GPU_STACKS)
    ]
    found += mig_configurations() + combined_configurations()
    taints = [
        [],
        ["nvidia.com/gpu:NoSchedule"],
        ["sku=gpu:PreferNoSchedule"],
        ["team=ml:NoExecute", "sku=gpu:NoSchedule"],
        ["kubernetes.azure.com/scalesetpriority=spot:NoSchedule"],
    ]
    found += [(f"taints-{i}", {"gpuNodeTaints": t}) for i, t in enumerate(taints)]
    found += [
        ("spot-nan", {"gpuSpot": True, "gpuSpotMaxPrice": "nan"}),
        ("spot-inf", {"gpuSpot": True, "gpuSpotMaxPrice": "inf"}),
        ("spot-only-taint", {"gpuSpot": True, "gpuNodeTaints": []}),
        ("labels", {"gpuNodeLabels": ["team=ml", "kubernetes.azure.com/accelerator=nvidia"]}),
        ("seed-plugin-image", {"devicePluginImage": device_plugin.SEED_IMAGE}),
        ("mirrored-plugin", {"devicePluginImage": "myacr.azurecr.io/nvidia/k8s-device-plugin@sha256:" + "a" * 64}),
        ("lookalike-plugin", {"devicePluginImage": "docker.io/someone/k8s-device-plugin:v0.18.0"}),
        ("other-plugin-image", {"devicePluginImage": "docker.io/library/busybox:1.36"}),
        ("no-job-no-verify", {"sampleJob": False, "verifyGpus": False}),
        ("namespace", {"gpuNamespace": "kube-system"}),
        ("pool-name", {"gpuPoolName": "a100"}),
        ("autoscale", {"gpuMinCount": 1, "gpuMaxCount": 5}),
    ]
    return found


def program_or_refusal(overrides: dict[str, Any], preview: bool = False) -> list[Resource] | None:
    try:
        return program_stack(overrides, preview=preview)
    except Exception as error:  # the program refused the config
        assert error.run.resources == [], "refused only after registering resources"
        return None


def expected_advisories(overrides: dict[str, Any], today: date) -> set[str]:
    """The advisory rules that may warn on this accepted configuration, each for a reason the program accepts.

    gpu-pool-tainted: the pool has no NoSchedule/NoExecute taint of its own (the walkthrough's untainted
    pool stays a valid choice). gpu-vm-size-retiring-soon: the size retires within the warning window.
    """
    expected = set()
    taints = [Taint.parse(t) for t in overrides.get("gpuNodeTaints", ["sku=gpu:NoSchedule"])]
    if not any(t.effect in HARD_TAINT_EFFECTS and t != SPOT_TAINT for t in taints):
        expected.add("gpu-pool-tainted")
    size = vm_sizes.find_gpu_vm_size(overrides.get("gpuVmSize", "Standard_NC4as_T4_v3"))
    retires = size.retirement_date("eastus") if size else None
    if size is None or (retires and today < retires <= today + timedelta(days=rules.RETIREMENT_WARNING_DAYS)):
        expected.add("gpu-vm-size-retiring-soon")
    return expected


# Configurations the program accepts although the pack refuses them, each with why; a
# strict xfail, so fixing one fails the test until its entry goes. None today.
PROGRAM_SHOULD_REFUSE: dict[str, str] = {}


def agreement_cases():
    for name, overrides in configurations():
        reason = PROGRAM_SHOULD_REFUSE.get(name)
        marks = [pytest.mark.xfail(reason=f"the program accepts {reason}", strict=True)] if reason else []
        yield pytest.param(name, overrides, id=name, marks=marks)


def assert_not_vacuous(stack: list[Resource], overrides: dict[str, Any]) -> None:
    # The rules see the program's GPU pool, and (with MIG) the program's Job asks for what the pool offers.
    assert rules.gpu_targets(stack).pool_names == {overrides.get("gpuPoolName", "gpu")}
    if overrides.get("gpuMigStrategy") == "mixed" and overrides.get("sampleJob", True):
        limits = find(stack, JOB).props["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert set(limits) <= rules.MIG_RESOURCES and limits


@pytest.fixture(scope="module")
def pack():
    with booted_pack() as client:
        yield client


@pytest.mark.parametrize(("name", "overrides"), list(agreement_cases()))
def test_what_the_program_accepts_passes_every_rule(pack, name, overrides):
    stack = program_or_refusal(overrides)
    if stack is None:
        return  # the program refuses it too
    assert_not_vacuous(stack, overrides)
    results = rules.evaluate(stack, today=TODAY)
    found = {n: [v.message for v in vs] for n, vs in results.items() if vs}
    assert set(found) <= expected_advisories(overrides, TODAY), found
    # The same stack through the pack booted as the CLI boots it, over gRPC, on today's date.
    allowed = expected_advisories(overrides, date.today())
    assert [d for d in pack.diagnostics(stack) if d.level != rules.ADVISORY or d.policy not in allowed] == []


def test_the_matrix_covers_what_the_issue_names_and_most_of_it_is_accepted():
    names = dict(configurations())
    for size, stack in itertools.product(MIG_SIZES, GPU_STACKS):
        assert all(f"{size}-{profile}-mixed-{stack}" in names for profile in AKS_MIG_PROFILES)
        assert sum(f"{size}-{profile}-single-{stack}" in names for profile in AKS_MIG_PROFILES) == 1
    singles = {overrides["gpuMigProfile"] for _, overrides in mig_configurations() if "single" in overrides.values()}
    assert singles == set(AKS_MIG_PROFILES)
    assert len(MIG_SIZES) >= 9
    accepted = [name for name, overrides in configurations() if program_or_refusal(overrides) is not None]
    assert len(accepted) >= 140, len(accepted)
    for must in (
        "entra-mig-managed",
        "existing-mig-device-plugin",
        "spot-mig-device-plugin",
        "scale-from-zero-managed",
    ):
        assert must in accepted
    # AKS runs no cluster autoscaler on multi-instance pools: preview refuses it, so the pack never sees it.
    assert "spot-scale-from-zero-mig-device-plugin" not in accepted


def test_the_booted_pack_refuses_what_the_in_process_rules_refuse(pack):
    """Not vacuous over gRPC: a retired size and a Job without its GPU are refused by the booted pack too."""
    stack = program_stack(
        {"gpuVmSize": "Standard_NC24ads_A100_v4", "gpuMigProfile": "MIG1g", "gpuMigStrategy": "mixed"}
    )
    job = find(stack, JOB)
    props = {**job.props, "spec": {**job.props["spec"]}}
    pod = {**props["spec"]["template"]["spec"]}
    pod["containers"] = [{**pod["containers"][0], "resources": {"limits": {"nvidia.com/mig-9g.999gb": 1}}}]
    props["spec"]["template"] = {**props["spec"]["template"], "spec": pod}
    pool = find(stack, AGENT_POOL)
    changed = [
        Resource(r.type, props, r.urn, r.name)
        if r is job
        else Resource(r.type, {**r.props, "vmSize": "Standard_NC6"}, r.urn, r.name)
        if r is pool
        else r
        for r in stack
    ]
    refused = {(d.policy, d.urn) for d in pack.diagnostics(changed) if d.level == rules.MANDATORY}
    assert refused == {("gpu-workloads-request-gpu", job.urn), ("gpu-vm-size-not-retired", pool.urn)}


@pytest.mark.parametrize(
    "overrides",
    [
        None,
        {"gpuStack": "managed"},
        EXISTING_CLUSTER,
        {**SPOT, "gpuMigProfile": "MIG2g", "gpuMigStrategy": "mixed", "gpuVmSize": "Standard_ND96isr_H100_v5"},
    ],
    ids=["dev", "managed", "existing", "spot-mig-mixed"],
)
def test_the_preview_stack_passes_too(overrides):
    """In preview many inputs are unknown; the rules leave those for `up` and refuse nothing."""
    stack = program_stack(overrides, preview=True)
    results = rules.evaluate(stack, today=TODAY)
    assert {n: found for n, found in results.items() if found} == {}


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaves(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaves(item, (*path, index))]
    return [path]


def with_leaf(props: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(props, dict):
        return {**props, head: with_leaf(props[head], rest, value)}
    return [with_leaf(item, rest, value) if i == head else item for i, item in enumerate(props)]


@pytest.mark.parametrize("odd", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("gpu_stack", [None, {"gpuStack": "managed"}], ids=["device-plugin", "managed"])
def test_nan_or_infinity_anywhere_never_crashes_the_rules(odd, gpu_stack):
    stack = program_stack(gpu_stack)
    checked = 0
    for index, resource in enumerate(stack):
        for path in [(), *leaves(resource.props)]:
            props = with_leaf(dict(resource.props), path, odd) if path else {"spec": odd, "count": odd}
            changed = [*stack[:index], Resource(resource.type, props, resource.urn, resource.name), *stack[index + 1 :]]
            rules.evaluate(changed)  # must not raise
            checked += 1
    assert checked > 80


def test_nan_where_a_number_matters_is_not_a_number():
    stack = program_stack()
    job = find(stack, JOB)
    for odd in (math.nan, math.inf, "NaN", "Infinity", "１", "1e400"):
        props = with_leaf(
            dict(job.props), ("spec", "template", "spec", "containers", 0, "resources", "limits", "nvidia.com/gpu"), odd
        )
        changed = [Resource(r.type, props, r.urn, r.name) if r is job else r for r in stack]
        [violation] = rules.gpu_workload_violations(changed)
        assert violation.urn == job.urn, odd
    pool = find(stack, AGENT_POOL)
    spot = {**pool.props, "scaleSetPriority": "Spot", "spotMaxPrice": math.nan, "count": math.inf}
    assert rules.evaluate([Resource(r.type, spot, r.urn, r.name) if r is pool else r for r in stack])
    assert rules.is_secret(find(stack, PROVIDER).props["kubeconfig"])


@pytest.mark.parametrize(
    "overrides",
    [
        None,
        {"gpuStack": "managed"},
        {"gpuSpot": True, "gpuSpotMaxPrice": "0.5", "gpuMinCount": 0, "gpuMaxCount": 3},
        {"gpuVmSize": "Standard_NC96ads_A100_v4", "gpuMigProfile": "MIG1g", "gpuNodeCount": 2},
        {"gpuNodeTaints": ["nvidia.com/gpu:NoSchedule"]},
        EXISTING_CLUSTER,
    ],
    ids=["dev", "managed", "spot-autoscale", "mig", "custom-taint", "existing-cluster"],
)
def test_the_programs_own_stacks_pass_every_rule(overrides):
    """The real program under the mock engine (inputs with their secret markers, as recorded)."""
    stack = program_stack(overrides)
    # Not vacuous: the rules recognise the program's GPU pool and its secret kubeconfig.
    assert rules.gpu_targets(stack).pool_names == {"gpu"}
    assert rules.is_secret(find(stack, PROVIDER).props["kubeconfig"])
    results = rules.evaluate(stack, today=TODAY)
    assert {name: found for name, found in results.items() if found} == {}
