"""docs/recipes.md, run: each recipe's commands become a stack's config, and the program builds it.

The commands are parsed out of the page and applied as the Pulumi CLI stores them: a plain
`pulumi config set KEY VALUE` stores the string, `--path 'KEY[i]'` sets element i of a list,
`pulumi config rm` removes a key. The stack starts from Pulumi.yaml's defaults only (a new
stack has no stack file). Anything else on a command line fails the test, so a recipe cannot
quietly carry a command this parser does not understand.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

import pytest

from tests.repo.test_docs import slug
from tests.support.harness import FAKE_ENTRA_KUBECONFIG, FAKE_KUBECONFIG, ROOT, Run, run_program

RECIPES = ROOT / "docs" / "recipes.md"
AGENT_POOL = "azure-native:containerservice:AgentPool"
CLUSTER = "azure-native:containerservice:ManagedCluster"
GROUP = "azure-native:resources:ResourceGroup"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
JOB = "kubernetes:batch/v1:Job"
_IGNORED = {("stack", "init"), ("stack", "select"), ("preview",), ("up",)}


def recipes(text: str) -> dict[str, list[str]]:
    """Heading anchor -> the command lines of the bash block under that `##` heading."""
    found = {}
    for section in re.split(r"(?m)^## ", text)[1:]:
        title, body = section.split("\n", 1)
        blocks = re.findall(r"```bash\n(.*?)```", body, re.S)
        assert len(blocks) == 1, f"recipe {title!r} needs exactly one bash block, has {len(blocks)}"
        lines = [line.strip() for line in blocks[0].splitlines()]
        found[slug(title)] = [line for line in lines if line and not line.startswith("#")]
    return found


def _set_path(config: dict[str, Any], path: str, value: str) -> None:
    match = re.fullmatch(r"([\w-]+:\w+)\[(\d+)\]", path)
    assert match, f"--path {path!r}: only KEY[index] is used on this page"
    key, index = match.group(1), int(match.group(2))
    items = config.setdefault(key, [])
    assert isinstance(items, list) and index <= len(items), f"{path}: set indices in order from 0"
    items[index : index + 1] = [value]


def apply(commands: list[str]) -> dict[str, Any]:
    """The stack config the commands leave, keyed by full name (aks-gpu:..., azure-native:...)."""
    config: dict[str, Any] = {}
    for line in commands:
        words = shlex.split(line)
        assert words[0] == "pulumi", f"not a pulumi command: {line}"
        args = words[1:]
        if tuple(args[:2]) in _IGNORED or tuple(args[:1]) in _IGNORED:
            continue
        assert args[:2] in (["config", "set"], ["config", "rm"]), f"unexpected command: {line}"
        rest = args[2:]
        path = "--path" in rest
        rest = [a for a in rest if a != "--path"]
        if args[1] == "rm":
            [key] = rest
            config.pop(key, None)
        elif path:
            key, value = rest
            _set_path(config, key, value)
        else:
            key, value = rest
            config[key] = value
    return config


def _pool(run: Run) -> dict[str, Any]:
    return run.one(AGENT_POOL).plain_inputs


def _job_limits(run: Run) -> dict[str, Any]:
    [container] = run.one(JOB).plain_inputs["spec"]["template"]["spec"]["containers"]
    return container["resources"]["limits"]


def _plugin_env(run: Run) -> dict[str, str]:
    [container] = run.one(DAEMONSET).plain_inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def check_a100_mig(run: Run) -> None:
    pool = _pool(run)
    assert (pool["vmSize"], pool["gpuInstanceProfile"], pool["count"]) == ("Standard_NC24ads_A100_v4", "MIG1g", 1)
    assert run.output("gpuResource") == "nvidia.com/mig-1g.10gb"
    assert run.output("expectedGpus") == 7
    assert _plugin_env(run)["MIG_STRATEGY"] == "mixed"
    assert _job_limits(run) == {"nvidia.com/mig-1g.10gb": 7}


def check_nd(run: Run) -> None:
    pool = _pool(run)
    assert (pool["vmSize"], pool["count"]) == ("Standard_ND96isr_H200_v5", 1)
    assert pool["nodeLabels"] == {"workload": "training"}
    assert run.one(GROUP).inputs["location"] == "eastus2"
    assert run.output("expectedGpus") == 8
    assert _job_limits(run) == {"nvidia.com/gpu": 8}


def check_spot_from_zero(run: Run) -> None:
    pool = _pool(run)
    assert (pool["scaleSetPriority"], pool["spotMaxPrice"]) == ("Spot", -1)
    assert (pool["enableAutoScaling"], pool["minCount"], pool["maxCount"]) == (True, 0, 3)
    assert run.output("expectedGpus") == 0
    tolerations = run.one(JOB).plain_inputs["spec"]["template"]["spec"]["tolerations"]
    assert any(t.get("key") == "kubernetes.azure.com/scalesetpriority" for t in tolerations)


def check_existing_cluster(run: Run) -> None:
    assert run.all(GROUP) == [] and run.all(CLUSTER) == []
    pool = _pool(run)
    assert (pool["resourceGroupName"], pool["resourceName"]) == ("prod-rg", "prodAKS")
    assert (pool["agentPoolName"], pool["vmSize"]) == ("gpu2", "Standard_NC8as_T4_v3")
    assert pool["nodeLabels"] == {"team": "ml"}
    assert run.output("clusterName") == "prodAKS"
    assert run.one(DAEMONSET) and run.one(JOB)


def check_entra(run: Run) -> None:
    cluster = run.one(CLUSTER).plain_inputs
    assert cluster["aadProfile"] == {
        "managed": True,
        "enableAzureRBAC": True,
        "adminGroupObjectIDs": ["1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"],
    }
    assert cluster["disableLocalAccounts"] is True
    assert run.one(ROLE_ASSIGNMENT)


CHECKS: dict[str, tuple[Callable[[Run], None], str]] = {
    "a100-with-mig": (check_a100_mig, FAKE_KUBECONFIG),
    "8-gpu-nd-h100-or-h200": (check_nd, FAKE_KUBECONFIG),
    "spot-with-scale-from-zero": (check_spot_from_zero, FAKE_KUBECONFIG),
    "add-a-pool-to-an-existing-cluster": (check_existing_cluster, FAKE_KUBECONFIG),
    "entra-id": (check_entra, FAKE_ENTRA_KUBECONFIG),
}


def test_every_recipe_on_the_page_is_checked():
    assert sorted(recipes(RECIPES.read_text())) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_recipe_builds_what_it_says(name):
    check, kubeconfig = CHECKS[name]
    commands = recipes(RECIPES.read_text())[name]
    run = run_program(apply(commands), stack=None, user_kubeconfig=kubeconfig)
    check(run)


def test_the_parser_stores_values_as_the_cli_does():
    config = apply(
        [
            "pulumi stack init x",
            "pulumi config set aks-gpu:gpuSpot true",
            "pulumi config set --path 'aks-gpu:gpuNodeLabels[0]' a=b",
            "pulumi config set --path 'aks-gpu:gpuNodeLabels[1]' c=d",
            "pulumi config rm aks-gpu:gpuSpot",
            "pulumi up",
        ]
    )
    assert config == {"aks-gpu:gpuNodeLabels": ["a=b", "c=d"]}
    with pytest.raises(AssertionError, match="unexpected command"):
        apply(["pulumi config get aks-gpu:gpuSpot"])
    with pytest.raises(AssertionError, match="not a pulumi command"):
        apply(["az login"])
