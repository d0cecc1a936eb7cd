"""Runs the whole `__main__.py` under Pulumi's mock engine and records what it registers.

The recording sits where the real engine would: it sees every RegisterResource
request (type, parent, dependencies, provider, resource options, inputs with
their secret markers) and the stack's outputs, exactly as the SDK sends them.
Config is merged the way the Pulumi CLI does it (`mergeConfig` in pulumi/pulumi
sdk/go/common/workspace/config.go): the stack file, then per-test overrides, and
every key Pulumi.yaml declares with a default that is still unset gets that
default; the program receives the whole bag as the engine sends it (strings,
lists and maps as JSON). Like the language host (`--pwd`), the program runs
with the project folder as its working directory.

In preview the mocks answer the way the engine does for a stack being created:
no resource has an ID yet, azure-native computes `name` (so it is unknown even
when given as an input), dynamic resources have not run, and Kubernetes objects
know only their inputs. The SDK then skips output-form invokes whose arguments
are unknown, as it does against the real engine.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import runpy
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "aks-gpu"
SECRET_SIG = rpc._special_sig_key
# A credential that must never surface unmarked anywhere in the run.
FAKE_TOKEN = "fake-token-3c1d0f5e"
FAKE_KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster: {{server: "https://aks.example.invalid:443"}}
users:
- name: clusterUser
  user: {{token: {FAKE_TOKEN}}}
contexts:
- name: aks
  context: {{cluster: aks, user: clusterUser}}
current-context: aks
"""
# What listClusterUserCredentials returns for an AKS-managed Entra ID cluster:
# a user running kubelogin's device code flow, which waits for a person.
FAKE_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FAKE_ENTRA_KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster:
    certificate-authority-data: {base64.b64encode(b"not a real CA").decode()}
    server: "https://aks.example.invalid:443"
users:
- name: clusterUser_rg_aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - 6dae42f8-4368-4678-94ff-3960e28e3630
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - {FAKE_TENANT}
      - --login
      - devicecode
      command: kubelogin
      env: null
      installHint: |
        kubelogin is not installed (fake hint kept by conversion)
      provideClusterInfo: false
contexts:
- name: aks
  context: {{cluster: aks, user: clusterUser_rg_aks}}
current-context: aks
"""
# The deploying identity getClientConfig reports: a person signed in with the Azure CLI.
FAKE_CLIENT_CONFIG = {
    "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    "objectId": "0a1b2c3d-0000-4000-8000-0000000de910",
    "subscriptionId": "00000000-1111-2222-3333-444444444444",
    "tenantId": FAKE_TENANT,
}


# Outputs of the dynamic resources by the end of their name, so tests can see that
# outputs are wired through (what the checks really return is tested against a live
# test API server).
DYNAMIC_OUTPUTS = {
    "capacity": {"verifiedGpus": 7, "gpuNodes": [{"name": "aks-gpu-0", "capacity": 7, "allocatable": 7}]},
    "job-result": {"result": {"status": "Complete", "accuracy": 0.97, "step": 490, "lastLines": []}},
    "acceptance-result": {
        "result": {
            "passed": True,
            "nodes": [{"node": "aks-gpu-0", "passed": True, "gpus": [{"index": 0, "tflops": 41.5, "passed": True}]}],
            "table": "| run | node | GPU |\n| 1 | aks-gpu-0 | 0 |\n",
        }
    },
    "access": {"reviews": 3},
}


# The pools getManagedCluster reports for an existing cluster: AKS's first pool, as `az aks create` names it.
EXISTING_POOLS = [
    {"name": "nodepool1", "mode": "System", "vmSize": "Standard_D4ds_v5", "count": 3, "osType": "Linux"},
]
# The Kubernetes version getManagedCluster reports for an existing cluster.
EXISTING_CLUSTER_VERSION = "1.34.2"


@dataclasses.dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    provider: str
    ignore_changes: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    additional_secret_outputs: list[str]
    custom_timeouts: dict[str, str]
    inputs: dict[str, Any]
    # Names given in `pulumi.Alias(name=...)`: same parent and type, another name.
    alias_names: list[str] = dataclasses.field(default_factory=list)

    def alias_urns(self) -> list[str]:
        """The URNs the aliases stand for (the resource's URN with the old name)."""
        prefix = self.urn.rsplit("::", 1)[0]
        return [f"{prefix}::{name}" for name in self.alias_names]

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return unwrap(self.inputs)


@dataclasses.dataclass
class Run:
    resources: list[Registered]
    outputs: dict[str, Any]
    warnings: list[str]
    invokes: list[tuple[str, dict]]

    def all(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.all(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    def output(self, key: str) -> Any:
        return unwrap(self.outputs[key])


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == rpc._special_secret_sig


def unwrap(value: Any) -> Any:
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def stack_config(
    stack: str | None = "dev", overrides: dict[str, Any] | None = None, project_dir: Path = ROOT
) -> dict[str, Any]:
    """Config values keyed by full name, merged as the CLI merges them.

    Stack file values, then `overrides` (a key without namespace is the project's);
    then each declared key still unset takes the default Pulumi.yaml declares.
    """
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {}
    if stack:
        values.update(yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text())["config"])
    for key, value in (overrides or {}).items():
        values[key if ":" in key else f"{PROJECT}:{key}"] = value
    for key, spec in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(spec, dict) and spec.get("default") is not None and full_key not in values:
            values[full_key] = spec["default"]
    return values


def _engine_form(value: Any) -> str:
    # The engine hands every config value to the program as a string: scalars as Go's
    # %v prints them, lists and maps as compact JSON (createConfigValue in config.go).
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _planned_state(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """What the engine returns in preview for a resource it is about to create."""
    state = dict(args.inputs)
    if args.typ.startswith("azure-native:"):
        state["name"] = rpc.UNKNOWN
    elif args.typ == "pulumi-python:dynamic:Resource":
        state.update(dict.fromkeys(DYNAMIC_OUTPUTS.get(_base_name(args.name), {}), rpc.UNKNOWN))
    elif args.typ.startswith("kubernetes:") and "metadata" in args.inputs:
        # pulumi-kubernetes auto-names in Check, which runs in preview too.
        metadata = dict(args.inputs["metadata"])
        metadata.setdefault("name", f"{args.name}-7g8h9i")
        state["metadata"] = metadata
    return "", state


def _base_name(name: str) -> str:
    """The dynamic resource's role, whatever component prefix its name carries."""
    return next((role for role in DYNAMIC_OUTPUTS if name == role or name.endswith("-" + role)), name)


class _Mocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        invokes: list,
        preview: bool,
        user_kubeconfig: str = FAKE_KUBECONFIG,
        client_config=None,
        existing_version: str = EXISTING_CLUSTER_VERSION,
    ):
        self.existing_version = existing_version
        self.invokes = invokes
        self.preview = preview
        self.user_kubeconfig = user_kubeconfig
        self.client_config = client_config or FAKE_CLIENT_CONFIG

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if self.preview:
            return _planned_state(args)
        state = dict(args.inputs)
        if args.typ == "azure-native:resources:ResourceGroup":
            state["name"] = args.inputs.get("resourceGroupName") or f"{args.name}-1a2b3c"
        elif args.typ == "azure-native:containerservice:ManagedCluster":
            state["name"] = args.inputs.get("resourceName") or f"{args.name}-4d5e6f"
        elif args.typ == "azure-native:containerservice:AgentPool":
            state["name"] = args.inputs.get("agentPoolName")
        elif args.typ == "pulumi-python:dynamic:Resource":
            state.update(DYNAMIC_OUTPUTS.get(_base_name(args.name), {}))
        elif args.typ.startswith("kubernetes:") and "metadata" in args.inputs:
            metadata = dict(args.inputs["metadata"])
            metadata.setdefault("name", f"{args.name}-7g8h9i")
            state["metadata"] = metadata
        return [f"{args.name}-id", state]

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            encoded = base64.b64encode(self.user_kubeconfig.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": encoded}]}
        if args.token == "azure-native:containerservice:getManagedCluster":
            return {
                "name": args.args["resourceName"],
                "location": "eastus",
                "agentPoolProfiles": EXISTING_POOLS,
                "currentKubernetesVersion": self.existing_version,
                "kubernetesVersion": self.existing_version,
            }
        if args.token == "azure-native:authorization:getClientConfig":
            return dict(self.client_config)
        return {}


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mock: _Mocks):
        super().__init__(mock)
        self.registered: list[Registered] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    ignore_changes=list(request.ignoreChanges),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=request.deleteBeforeReplace,
                    retain_on_delete=request.retainOnDelete,
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    custom_timeouts={
                        "create": request.customTimeouts.create,
                        "update": request.customTimeouts.update,
                    },
                    inputs=rpc.deserialize_properties(request.object),
                    alias_names=[a.spec.name for a in request.aliases if a.spec.name],
                )
            )
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(
    overrides: dict[str, Any] | None = None,
    *,
    stack: str | None = "dev",
    preview: bool = False,
    user_kubeconfig: str = FAKE_KUBECONFIG,
    client_config: dict[str, str] | None = None,
    existing_version: str = EXISTING_CLUSTER_VERSION,
    project_dir: Path = ROOT,
) -> Run:
    """Run the project's __main__.py once for the given stack file and config overrides.

    `project_dir` holds Pulumi.yaml, Pulumi.<stack>.yaml and __main__.py (the checkout by
    default). `user_kubeconfig` is what listManagedClusterUserCredentials returns
    (FAKE_ENTRA_KUBECONFIG for an Entra ID cluster); `client_config` what getClientConfig
    says about the deployer.
    """
    config = stack_config(stack, overrides, project_dir)
    return run_main(
        project_dir / "__main__.py",
        {key: _engine_form(value) for key, value in config.items()},
        project=PROJECT,
        stack=stack or "test",
        preview=preview,
        mock=_Mocks([], preview, user_kubeconfig, client_config, existing_version),
    )


def run_main(
    program: Path,
    config: dict[str, str],
    *,
    project: str,
    stack: str,
    preview: bool,
    mock: _Mocks | None = None,
) -> Run:
    """Run one Pulumi program file under the mock engine, in its own folder, with `config` as the engine sends it."""
    mock = mock or _Mocks([], preview)
    pulumi.runtime.set_all_config(config)
    monitor = _RecordingMonitor(mock)
    warnings = _Warnings()
    logger = logging.getLogger(f"aks-gpu-test-{id(monitor)}")
    logger.addHandler(warnings)
    pulumi.runtime.set_mocks(mock, project=project, stack=stack, preview=preview, monitor=monitor, logger=logger)
    # set_mocks installs a placeholder stack; the real entry point makes its own.
    runtime_settings.ROOT.set(None)
    # A run that failed in an apply leaves outputs and an unhandled exception behind;
    # clear them as pulumi.runtime.test does, so they do not fail the next run.
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    cwd = os.getcwd()
    os.chdir(program.parent)
    try:
        _sync_await(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
    except Exception as error:
        # Tests of bad input check that nothing was registered before the failure.
        error.run = Run(monitor.registered, monitor.stack_outputs, warnings.messages, mock.invokes)  # type: ignore[attr-defined]
        raise
    finally:
        os.chdir(cwd)
    return Run(monitor.registered, monitor.stack_outputs, warnings.messages, mock.invokes)
