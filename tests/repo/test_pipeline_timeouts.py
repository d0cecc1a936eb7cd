"""The deploy jobs' timeouts follow from the stack's own waits, so a job is never killed
while the stack is still within its deadlines (which would leave the state locked).

The program's waits come from the code and Pulumi.yaml; Azure's operations have no
deadline in the program, so they get a budget here, above what AKS typically takes.
docs/ci.md ("Job timeouts") shows the same sum.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from aks_gpu.builders import acceptance
from aks_gpu.components import gpu_verification, sample_job
from aks_gpu.config.project import declared_default
from aks_gpu.facts import entra
from tests.support.harness import ROOT

DEPLOY = ROOT / ".github" / "workflows" / "pulumi-deploy.yml"
ADO = ROOT / "pipelines" / "azure-pipelines.yml"
CI_DOC = ROOT / "docs" / "ci.md"

# Minutes for what the program does not bound itself.
SETUP = 10  # checkout, Python, `pip install -r requirements.txt`, kubelogin, sign-ins
POLICY_PREVIEW = 10  # the policy-gate preview, with the Azure preflight
AZURE_CLUSTER = 30  # a new AKS cluster: typically 5-15 minutes
AZURE_POOL = 30  # a GPU node pool: typically 5-15 minutes
RELEASE = 5  # `pulumi cancel` after a cancel or timeout
GITHUB_HOSTED_MAX = 360  # a GitHub-hosted job runs at most 6 hours


def _verify_timeout_seconds() -> int:
    """The longest verifyTimeoutSeconds of Pulumi.yaml and the committed stacks."""
    values = [int(declared_default("verifyTimeoutSeconds"))]
    for stack in ROOT.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(stack.read_text()).get("config") or {}
        if "aks-gpu:verifyTimeoutSeconds" in config:
            values.append(int(config["aks-gpu:verifyTimeoutSeconds"]))
    return max(values)


def stack_waits_minutes() -> dict[str, int]:
    """Each wait of a first `pulumi up` on the critical path, in whole minutes, worst case.

    Scale from zero runs the verification beside the workload; the sum below is the
    serial worst case (a pool with a floor above zero).
    """
    seconds = {
        "Entra role propagation": entra.ROLE_PROPAGATION_SECONDS + 120,
        "verification": _verify_timeout_seconds() + gpu_verification.ENGINE_MARGIN_SECONDS,
        "workload Job": max(acceptance.JOB_TIMEOUT_SECONDS, sample_job.JOB_TIMEOUT_SECONDS),
    }
    program = {name: math.ceil(value / 60) for name, value in seconds.items()}
    return {
        "set-up": SETUP,
        "policy preview": POLICY_PREVIEW,
        "cluster": AZURE_CLUSTER,
        "GPU pool": AZURE_POOL,
        **program,
        "releasing the lock": RELEASE,
    }


def test_the_github_deploy_job_outlasts_the_stacks_waits():
    worst = sum(stack_waits_minutes().values())
    [job] = yaml.safe_load(DEPLOY.read_text())["jobs"].values()
    assert worst <= job["timeout-minutes"] <= min(worst + 30, GITHUB_HOSTED_MAX), stack_waits_minutes()


def test_the_azure_pipelines_deploy_job_outlasts_the_stacks_waits():
    worst = sum(stack_waits_minutes().values())
    deploy = yaml.safe_load(ADO.read_text())["stages"][1]["jobs"][0]
    assert worst <= int(deploy["timeoutInMinutes"]) <= worst + 30, stack_waits_minutes()


def test_docs_show_the_same_sum():
    section = CI_DOC.read_text().split("## Job timeouts", 1)[1].split("\n## ", 1)[0]
    waits = stack_waits_minutes()
    assert f"**{sum(waits.values())} minutes**" in section
    for name, minutes in waits.items():
        assert f"| {name} | {minutes} |" in section, name


def test_a_longer_verification_in_a_stack_raises_the_bound(tmp_path, monkeypatch):
    before = sum(stack_waits_minutes().values())
    stack = Path(tmp_path) / "Pulumi.long.yaml"
    stack.write_text("config:\n  aks-gpu:verifyTimeoutSeconds: 7200\n")
    monkeypatch.setattr(f"{__name__}.ROOT", Path(tmp_path))
    default = math.ceil((int(declared_default("verifyTimeoutSeconds")) + gpu_verification.ENGINE_MARGIN_SECONDS) / 60)
    longest = math.ceil((7200 + gpu_verification.ENGINE_MARGIN_SECONDS) / 60)
    assert sum(stack_waits_minutes().values()) == before - default + longest
