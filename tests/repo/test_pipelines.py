"""The CI pipelines (.github/workflows/, pipelines/) pass real linters and keep their guarantees.

Linters run from the virtualenv next to this interpreter, offline: zizmor with
--offline and no GitHub token, check-jsonschema with its vendored schemas and a
proxy that refuses any connection, so neither can reach (or wait for) the
network. Each linter also gets a deliberately broken copy of a pipeline, to
prove it is really looking. The structural checks below cover what the linters
do not know about this project: pins, scopes, OIDC, backends, versions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
ADO_DIR = ROOT / "pipelines"
ADO_PIPELINES = [ADO_DIR / "azure-pipelines.yml", ADO_DIR / "drift.yml"]
ADO_TEMPLATE = ADO_DIR / "templates" / "pulumi.yml"
ADO_FILES = [*ADO_PIPELINES, ADO_TEMPLATE]

PREVIEW, DEPLOY, DRIFT = (WORKFLOW_DIR / f"pulumi-{name}.yml" for name in ("preview", "deploy", "drift"))
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
PULUMI_ACTION = "pulumi/actions"
PULUMI_AUTH = "pulumi/auth-actions"
AZURE_LOGIN = "azure/login"
# The first major version of each action whose action.yml runs on Node 24 (`runs.using:
# node24`), read from the actions' repositories at their release tags. Node 20 left
# GitHub's hosted runners on 2026-09-16.
NODE24_SINCE = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    AZURE_LOGIN: 3,
    PULUMI_ACTION: 7,
    PULUMI_AUTH: 2,
}
# What the workflows used to do: a long-lived Pulumi token as a repository secret.
STORED_TOKEN = "        env:\n          PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n"
_PINNED_USES = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"uses:\s*(\S+)\s+#\s*v\d+\.\d+\.\d+\s*$")


def requirement(name: str, path: Path = ROOT / "requirements.txt") -> str:
    for line in path.read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.split("==")[1].strip()
    raise AssertionError(f"{name} is not pinned in {path}")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True)) or {}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def action(step: dict[str, Any]) -> str:
    return step.get("uses", "").split("@")[0]


# --- Running the linters offline -------------------------------------------------------------


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}}
    # A proxy on a closed loopback port: any download attempt fails at once.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = "http://127.0.0.1:9"
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    env["NO_COLOR"] = "1"
    return env


def tool(name: str) -> Path:
    path = BIN / name
    assert path.exists(), f"{name} is not installed next to {sys.executable}; see requirements.txt"
    return path


def run(executable: Path, *args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(executable), *map(str, args)],
        cwd=cwd,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def zizmor(*paths: Path, persona: str = "auditor") -> subprocess.CompletedProcess:
    # Auditor persona: every audit at every confidence, code smells included. --offline:
    # no audit may call the GitHub API (the SHA-to-tag checks are online-only audits).
    return run(tool("zizmor"), "--offline", "--no-progress", "--persona", persona, "--format", "json", *paths)


def zizmor_findings(result: subprocess.CompletedProcess) -> list[str]:
    """zizmor exits 0 with no findings and 10 + the highest severity with findings;
    anything else (1, 2) is zizmor itself failing, which must not read as 'clean'."""
    assert result.returncode == 0 or result.returncode >= 10, result.stderr
    return [finding["ident"] for finding in json.loads(result.stdout or "[]")]


def check_jsonschema(schema: str, *paths: Path, ado: bool = False) -> subprocess.CompletedProcess:
    args = ["--builtin-schema", schema]
    if ado:
        # `${{ }}` template expressions as keys; the schema's patterns need the
        # non-unicode regex dialect (the default one rejects an escape in it).
        args += ["--data-transform", "azure-pipelines", "--regex-variant", "nonunicode"]
    return run(tool("check-jsonschema"), *args, *paths)


def broken_copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text()
    assert old in text, f"{old!r} not in {source.name}"
    target = tmp_path / ".github" / "workflows" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(old, new))
    return target


def test_there_are_pipelines_to_check():
    assert [p.name for p in WORKFLOWS] == ["pulumi-deploy.yml", "pulumi-drift.yml", "pulumi-preview.yml"]
    assert all(p.exists() for p in ADO_FILES)


def test_zizmor_finds_nothing_in_the_workflows_and_dependabot_config():
    result = zizmor(*WORKFLOWS, DEPENDABOT)
    assert zizmor_findings(result) == [], result.stdout
    assert result.returncode == 0


@pytest.mark.parametrize(
    ("old", "new", "audit"),
    [
        (
            "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
            "actions/checkout@v7",
            "unpinned-uses",
        ),
        ("permissions: {}", "permissions: write-all", "excessive-permissions"),
        ("          persist-credentials: false\n", "          fetch-depth: 1\n", "artipacked"),
        (
            "      - name: Install the program's dependencies\n        run: |\n",
            "      - name: Install the program's dependencies\n        run: |\n"
            '          echo "${{ github.event.pull_request.title }}"\n',
            "template-injection",
        ),
        (
            "      - name: pulumi preview --diff\n",
            "      - name: pulumi preview --diff\n" + STORED_TOKEN,
            "secrets-outside-env",
        ),
    ],
    ids=["unpinned-action", "write-all", "persisted-credentials", "template-injection", "stored-token"],
)
def test_zizmor_catches_a_broken_workflow(tmp_path, old, new, audit):
    result = zizmor(broken_copy(tmp_path, PREVIEW, old, new))
    assert audit in zizmor_findings(result)
    assert result.returncode >= 10


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_match_the_github_schemas(schema):
    result = check_jsonschema(schema, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_github_schema_catches_a_broken_workflow(tmp_path):
    broken = broken_copy(tmp_path, DEPLOY, "cancel-in-progress: false", "cancel-in-progress: sometimes")
    assert check_jsonschema("vendor.github-workflows", broken).returncode == 1
    no_timeout = broken_copy(tmp_path, DRIFT, "    timeout-minutes: 30\n", "")
    assert check_jsonschema("custom.github-workflows-require-timeout", no_timeout).returncode == 1


def test_azure_pipelines_match_their_schema():
    result = check_jsonschema("vendor.azure-pipelines", *ADO_FILES, ado=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_azure_pipelines_schema_catches_a_broken_pipeline(tmp_path):
    text = (ADO_DIR / "azure-pipelines.yml").read_text()
    broken = tmp_path / "azure-pipelines.yml"
    broken.write_text(text.replace("strategy:\n          runOnce:", "strategy:\n          runTwice:"))
    assert check_jsonschema("vendor.azure-pipelines", broken, ado=True).returncode == 1


def test_dependabot_config_matches_its_schema_and_covers_actions_and_pip():
    assert check_jsonschema("vendor.dependabot", DEPENDABOT).returncode == 0
    updates = {u["package-ecosystem"]: u for u in load(DEPENDABOT)["updates"]}
    assert updates["github-actions"]["directory"] == "/"
    assert set(updates["pip"]["directories"]) == {"/", "/policy"}
    assert all(u["cooldown"]["default-days"] >= 1 for u in updates.values())


def test_actionlint_finds_nothing():
    # actionlint comes from requirements.txt (a wheel that ships the binary).
    result = run(tool("actionlint"), "-no-color", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = broken_copy(
        tmp_path, DEPLOY, "stack-name: ${{ env.PULUMI_STACK }}", "stack-name: ${{ envs.PULUMI_STACK }}"
    )
    result = run(tool("actionlint"), "-no-color", broken)
    assert result.returncode == 1 and "envs" in result.stdout, result.stdout + result.stderr


# --- What the linters cannot know: this project's guarantees -----------------------------------


def _pinned_majors(text: str) -> dict[str, int]:
    """Action -> major version of its '# vX.Y.Z' pin comment."""
    found = re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@[0-9a-f]{40}\s+#\s*v(\d+)\.", text)
    return {name: int(major) for name, major in found}


def _pulumi_cloud_sign_in_problems(job_id: str, job_steps: list[dict[str, Any]]) -> list[str]:
    """Pulumi Cloud is reached through the OIDC token exchange, before any Pulumi step."""
    auth = [i for i, s in enumerate(job_steps) if action(s) == PULUMI_AUTH]
    first_pulumi = next(i for i, s in enumerate(job_steps) if action(s) == PULUMI_ACTION)
    if len(auth) != 1 or auth[0] > first_pulumi:
        return [f"{job_id}: one pulumi/auth-actions step before the first Pulumi step"]
    step = job_steps[auth[0]]
    inputs = step.get("with", {})
    problems = []
    if step.get("if") != "vars.PULUMI_BACKEND_URL == ''":
        problems.append(f"{job_id}: the OIDC exchange runs only for Pulumi Cloud (no PULUMI_BACKEND_URL)")
    if inputs.get("organization") != "${{ vars.PULUMI_ORGANIZATION }}":
        problems.append(f"{job_id}: the Pulumi organization comes from vars.PULUMI_ORGANIZATION")
    if inputs.get("requested-token-type") != "urn:pulumi:token-type:access_token:organization":
        problems.append(f"{job_id}: an organization token")
    return problems


def workflow_problems(path: Path) -> list[str]:
    """Everything wrong with one workflow, by this project's rules."""
    text = path.read_text()
    workflow = load(path)
    problems = []
    if workflow.get("permissions") != {}:
        problems.append("the workflow must grant nothing by default (permissions: {})")
    if "pull_request_target" in triggers(workflow) or "workflow_run" in triggers(workflow):
        problems.append("no privileged triggers (pull_request_target, workflow_run)")
    for line in text.splitlines():
        if "uses:" in line and not line.lstrip().startswith("#"):
            ref = line.split("uses:", 1)[1].split("#")[0].strip()
            if not _PINNED_USES.match(ref):
                problems.append(f"not pinned to a full commit SHA: {ref}")
            elif not _VERSION_COMMENT.search(line):
                problems.append(f"pinned without a '# vX.Y.Z' comment: {ref}")
    if re.search(r"client-secret|CLIENT_SECRET|\bcreds:", text):
        problems.append("no Azure client secret: log in with OIDC")
    if "secrets." in text:
        problems.append("no stored secret: Azure and Pulumi Cloud sign in with the job's OIDC token")
    for name, major in _pinned_majors(text).items():
        if major < NODE24_SINCE.get(name, 0):
            problems.append(f"{name} v{major} runs on Node 20: use v{NODE24_SINCE[name]} or later")
    for job_id, job in workflow.get("jobs", {}).items():
        perms = job.get("permissions")
        if not isinstance(perms, dict):
            problems.append(f"{job_id}: needs an explicit permissions map (got {perms!r})")
            perms = {}
        writes = {scope for scope, level in perms.items() if level == "write"}
        uses_azure = any(action(s) == AZURE_LOGIN for s in steps(job))
        uses_oidc = uses_azure or any(action(s) == PULUMI_AUTH for s in steps(job))
        comments = any(s.get("with", {}).get("comment-on-pr") is True for s in steps(job))
        allowed = ({"id-token"} if uses_oidc else set()) | ({"pull-requests"} if comments else set())
        if writes - allowed:
            problems.append(f"{job_id}: write access it does not use: {sorted(writes - allowed)}")
        if perms.get("contents") not in ("read", None):
            problems.append(f"{job_id}: contents must be read-only")
        if "timeout-minutes" not in job:
            problems.append(f"{job_id}: no timeout-minutes")
        for step in steps(job):
            if "${{" in step.get("run", ""):
                problems.append(f"{job_id}: an expression inside run: (pass it through env:)")
            if action(step) == "actions/checkout" and step.get("with", {}).get("persist-credentials") is not False:
                problems.append(f"{job_id}: checkout must set persist-credentials: false")
            if action(step) == AZURE_LOGIN:
                login = step.get("with", {})
                for key in ("client-id", "tenant-id", "subscription-id"):
                    if not str(login.get(key, "")).startswith("${{ vars."):
                        problems.append(f"{job_id}: azure/login {key} must come from a variable")
                if set(login) - {"client-id", "tenant-id", "subscription-id"}:
                    problems.append(f"{job_id}: azure/login takes only the three IDs")
        pulumi_steps = [s for s in steps(job) if action(s) == PULUMI_ACTION]
        if pulumi_steps:
            env = job.get("env", {})
            if env.get("ARM_USE_OIDC") != "true" or not all(
                str(env.get(k, "")).startswith("${{ vars.AZURE_")
                for k in ("ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID")
            ):
                problems.append(f"{job_id}: pulumi-azure-native needs ARM_USE_OIDC and the ARM_* IDs from variables")
            if env.get("PULUMI_STACK") != "${{ vars.PULUMI_STACK || 'dev' }}":
                problems.append(f"{job_id}: the stack comes from vars.PULUMI_STACK, defaulting to dev")
            if not uses_azure:
                problems.append(f"{job_id}: Pulumi runs without an Azure login")
            problems += _pulumi_cloud_sign_in_problems(job_id, steps(job))
        for step in pulumi_steps:
            inputs = step.get("with", {})
            if inputs.get("policyPacks") != "policy":
                problems.append(f"{job_id}: {step.get('name')} must run the policy pack")
            if inputs.get("cloud-url") != "${{ vars.PULUMI_BACKEND_URL }}":
                problems.append(f"{job_id}: the backend comes from vars.PULUMI_BACKEND_URL")
            if str(inputs.get("pulumi-version")) != requirement("pulumi"):
                problems.append(f"{job_id}: Pulumi CLI {inputs.get('pulumi-version')} != pulumi in requirements.txt")
        for step in steps(job):
            if action(step) == "actions/setup-python" and str(step["with"]["python-version"]) != "3.11":
                problems.append(f"{job_id}: Python 3.11")
    return problems


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_keeps_the_projects_rules(path):
    assert workflow_problems(path) == []


@pytest.mark.parametrize(
    ("source", "old", "new", "problem"),
    [
        (
            PREVIEW,
            "azure/login@f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca # v3.0.1",
            "azure/login@v3",
            "not pinned to a full commit SHA",
        ),
        (PREVIEW, "permissions: {}", "permissions: write-all", "grant nothing by default"),
        (DEPLOY, "      contents: read # check out the code\n", "      contents: write\n", "write access"),
        (DRIFT, "          policyPacks: policy\n", "", "must run the policy pack"),
        (DEPLOY, "pulumi-version: 3.272.0", "pulumi-version: 3.200.0", "!= pulumi in requirements.txt"),
        (PREVIEW, 'ARM_USE_OIDC: "true"', 'ARM_USE_OIDC: "false"', "ARM_USE_OIDC"),
        (PREVIEW, "client-id: ${{ vars.AZURE_CLIENT_ID }}", "client-id: ${{ secrets.AZURE_CLIENT_ID }}", "variable"),
        (
            DRIFT,
            "          expect-no-changes: true\n",
            "          expect-no-changes: true\n" + STORED_TOKEN,
            "no stored secret",
        ),
        (
            PREVIEW,
            "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
            "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0",
            "runs on Node 20",
        ),
        (DEPLOY, "uses: pulumi/auth-actions@", "uses: pulumi/not-auth-actions@", "pulumi/auth-actions step"),
        (DRIFT, "        if: vars.PULUMI_BACKEND_URL == ''\n", "", "only for Pulumi Cloud"),
        (PREVIEW, "organization: ${{ vars.PULUMI_ORGANIZATION }}", "organization: my-org", "PULUMI_ORGANIZATION"),
    ],
    ids=[
        "unpinned",
        "write-all",
        "contents-write",
        "no-policy-pack",
        "cli-version",
        "no-oidc",
        "id-from-secret",
        "stored-token",
        "node20",
        "no-pulumi-oidc",
        "oidc-for-self-managed",
        "org-hardcoded",
    ],
)
def test_the_project_rules_catch_a_broken_workflow(tmp_path, source, old, new, problem):
    problems = workflow_problems(broken_copy(tmp_path, source, old, new))
    assert any(problem in p for p in problems), problems


def test_the_same_action_is_pinned_to_the_same_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for ref in re.findall(r"uses:\s*(\S+@[0-9a-f]{40})", path.read_text()):
            name, sha = ref.split("@")
            pins.setdefault(name, set()).add(sha)
    assert set(pins) == {"actions/checkout", "actions/setup-python", AZURE_LOGIN, PULUMI_ACTION, PULUMI_AUTH}
    assert {name: len(shas) for name, shas in pins.items()} == dict.fromkeys(pins, 1)


def test_preview_runs_on_pull_requests_and_comments_on_them():
    workflow = load(PREVIEW)
    assert set(triggers(workflow)) == {"pull_request"}
    job = workflow["jobs"]["preview"]
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    [pulumi] = [s for s in steps(job) if action(s) == PULUMI_ACTION]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["diff"] is True
    assert pulumi["with"]["comment-on-pr"] is True
    # Forks get no OIDC token: the job is skipped for them rather than failing.
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_deploys_run_on_main_one_at_a_time_behind_the_stacks_environment():
    workflow = load(DEPLOY)
    assert triggers(workflow) == {"push": {"branches": ["main"]}}
    [job] = workflow["jobs"].values()
    assert job["concurrency"] == {
        "group": "pulumi-deploy-${{ vars.PULUMI_STACK || 'dev' }}",
        "cancel-in-progress": False,
    }
    assert job["environment"]["name"] == "${{ vars.PULUMI_STACK || 'dev' }}"
    commands = [s["with"]["command"] for s in steps(job) if action(s) == PULUMI_ACTION]
    # The preview runs the stack-wide policies before `up` (which skips its own preview).
    assert commands == ["preview", "up"]


def test_a_cancelled_or_failed_deploy_releases_the_stacks_lock():
    [job] = load(DEPLOY)["jobs"].values()
    release = steps(job)[-1]
    assert release["if"] == "cancelled() || failure()"
    assert 'pulumi cancel --yes --stack "${PULUMI_STACK}"' in release["run"]
    assert release["env"] == {"PULUMI_BACKEND_URL": "${{ vars.PULUMI_BACKEND_URL }}"}
    up = next(i for i, s in enumerate(steps(job)) if s.get("with", {}).get("command") == "up")
    assert up < len(steps(job)) - 1


def test_the_pulumi_token_outlives_the_job():
    for path in WORKFLOWS:
        [job] = load(path)["jobs"].values()
        [auth] = [s for s in steps(job) if action(s) == PULUMI_AUTH]
        assert int(auth["with"]["token-expiration"]) >= 60 * job["timeout-minutes"], path.name


def test_the_drift_check_is_scheduled_and_fails_on_changes():
    workflow = load(DRIFT)
    assert triggers(workflow)["schedule"] == [{"cron": "17 5 * * *"}]
    [job] = workflow["jobs"].values()
    [pulumi] = [s for s in steps(job) if action(s) == PULUMI_ACTION]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["refresh"] is True and pulumi["with"]["expect-no-changes"] is True
    assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_the_policy_packs_requirements_match_the_programs():
    pack = ROOT / "policy" / "requirements.txt"
    for name in ("pulumi", "pulumi-policy"):
        assert requirement(name, pack) == requirement(name)


# --- Azure Pipelines ------------------------------------------------------------------------------


def ado_template_steps() -> list[dict[str, Any]]:
    return load(ADO_TEMPLATE)["steps"]


def ado_pulumi_script() -> str:
    [task] = [s for s in ado_template_steps() if s.get("task") == "AzureCLI@2"]
    return task["inputs"]["inlineScript"]


def test_azure_pipelines_use_the_workload_identity_connection_and_oidc():
    [task] = [s for s in ado_template_steps() if s.get("task") == "AzureCLI@2"]
    assert task["inputs"]["azureSubscription"] == "${{ parameters.serviceConnection }}"
    assert task["inputs"]["addSpnToEnvironment"] is True
    script = ado_pulumi_script()
    for assignment in ("ARM_USE_OIDC=true", 'ARM_CLIENT_ID="$servicePrincipalId"', 'ARM_OIDC_TOKEN="$idToken"'):
        assert assignment in script
    assert "ARM_SUBSCRIPTION_ID" in script and 'ARM_TENANT_ID="$tenantId"' in script
    # Only the two Pulumi secrets and the job's own access token (kubelogin's
    # azurepipelines login trades it for a federated token), mapped explicitly;
    # no Azure secret anywhere.
    assert {k for k in task["env"] if "TOKEN" in k or "PASSPHRASE" in k} == {
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
        "SYSTEM_ACCESSTOKEN",
    }
    assert task["env"]["SYSTEM_ACCESSTOKEN"] == "$(System.AccessToken)"
    assert "common+=(--config aks-gpu:kubeloginMode=azurepipelines)" in script
    for path in ADO_FILES:
        assert not re.search(r"CLIENT_SECRET|clientSecret|servicePrincipalKey", path.read_text()), path.name


def test_azure_pipelines_run_every_command_with_the_policy_pack():
    script = ado_pulumi_script()
    assert 'common=(--stack "$PULUMI_STACK" --non-interactive --diff --policy-pack policy)' in script
    assert 'pulumi preview "${common[@]}"' in script
    assert 'pulumi up "${common[@]}" --yes ;;' in script  # with its preview: policies gate first
    assert 'pulumi preview "${common[@]}" --refresh --expect-no-changes' in script


def test_azure_pipelines_install_the_pinned_tools():
    template = load(ADO_TEMPLATE)
    [version] = [p for p in template["parameters"] if p["name"] == "pulumiVersion"]
    assert version["default"] == requirement("pulumi")
    [python] = [s for s in template["steps"] if s.get("task", "").startswith("UsePythonVersion@")]
    assert python["inputs"]["versionSpec"] == "3.11"
    install = next(s["bash"] for s in template["steps"] if "sha256sum --check" in s.get("bash", ""))
    assert "pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz" in install
    assert any("--requirement requirements.txt" in s.get("bash", "") for s in template["steps"])


KUBELOGIN_VERSION = "0.2.19"


def _checks_kubelogin(script: str) -> None:
    assert "kubelogin-linux-amd64.zip" in script
    assert 'sha256sum --check --strict "$archive.sha256"' in script
    assert "releases/download/v${KUBELOGIN_VERSION}" in script


def test_azure_pipelines_install_a_pinned_checked_kubelogin():
    template = load(ADO_TEMPLATE)
    [version] = [p for p in template["parameters"] if p["name"] == "kubeloginVersion"]
    assert version["default"] == KUBELOGIN_VERSION
    [install] = [s for s in template["steps"] if "kubelogin-linux-amd64.zip" in s.get("bash", "")]
    _checks_kubelogin(install["bash"])
    assert install["env"]["KUBELOGIN_VERSION"] == "${{ parameters.kubeloginVersion }}"
    steps = template["steps"]
    assert steps.index(install) < next(i for i, s in enumerate(steps) if s.get("task") == "AzureCLI@2")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_install_a_pinned_checked_kubelogin_after_the_azure_login(path):
    workflow = load(path)
    [job] = workflow["jobs"].values()
    assert job["env"]["KUBELOGIN_VERSION"] == KUBELOGIN_VERSION
    steps = job["steps"]
    [install] = [s for s in steps if "kubelogin-linux-amd64.zip" in s.get("run", "")]
    _checks_kubelogin(install["run"])
    login = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith(AZURE_LOGIN + "@"))
    first_pulumi = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith(PULUMI_ACTION + "@"))
    assert login < steps.index(install) < first_pulumi


def test_azure_pipelines_preview_pull_requests_and_deploy_main_behind_an_environment():
    pipeline = load(ADO_DIR / "azure-pipelines.yml")
    assert pipeline["trigger"] == {"branches": {"include": ["main"]}}
    assert pipeline["pr"] == {"branches": {"include": ["main"]}}
    assert pipeline["lockBehavior"] == "sequential"
    preview, deploy = pipeline["stages"]
    [preview_job] = preview["jobs"]
    assert preview_job["steps"][-1]["parameters"] == {
        "serviceConnection": "${{ variables.planServiceConnection }}",
        "command": "preview",
    }
    assert "eq(variables['Build.SourceBranch'], 'refs/heads/main')" in deploy["condition"]
    assert "ne(variables['Build.Reason'], 'PullRequest')" in deploy["condition"]
    [up] = deploy["jobs"]
    assert up["environment"] == "${{ variables.deployEnvironment }}"
    assert up["strategy"]["runOnce"]["deploy"]["steps"][-1]["parameters"] == {
        "serviceConnection": "${{ variables.deployServiceConnection }}",
        "command": "up",
    }
    variables = {v.get("name"): v.get("value") for v in pipeline["variables"]}
    assert variables["pulumiStack"] == "$[coalesce(variables['PULUMI_STACK'], 'dev')]"


def test_the_azure_drift_pipeline_runs_daily_on_main():
    drift = load(ADO_DIR / "drift.yml")
    assert drift["trigger"] == "none" and drift["pr"] == "none"
    [schedule] = drift["schedules"]
    assert schedule["cron"] == "17 5 * * *" and schedule["branches"] == {"include": ["main"]}
    assert drift["jobs"][0]["steps"][-1]["parameters"]["command"] == "drift"


def test_a_cancelled_or_failed_azure_deploy_releases_the_stacks_lock():
    [insertion] = [s for s in ado_template_steps() if any("parameters.command, 'up'" in k for k in s)]
    [[release]] = insertion.values()
    assert release["task"] == "AzureCLI@2" and release["condition"] == "or(canceled(), failed())"
    assert release["inputs"]["azureSubscription"] == "${{ parameters.serviceConnection }}"
    assert 'pulumi cancel --yes --stack "$PULUMI_STACK"' in release["inputs"]["inlineScript"]
    deploy = load(ADO_DIR / "azure-pipelines.yml")["stages"][1]["jobs"][0]
    assert int(deploy["cancelTimeoutInMinutes"]) >= 2


def test_azure_pipelines_leave_no_token_in_the_checkout():
    for path in ADO_PIPELINES:
        assert "persistCredentials: true" not in path.read_text(), path.name
