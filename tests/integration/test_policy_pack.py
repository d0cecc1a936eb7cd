"""The policy pack as pulumi-policy runs it: the adapter in policy/__main__.py against the real SDK.

The first tests call the SDK's own analyzer servicer in process (exactly the code
path of the engine's Analyze/AnalyzeStack/Remediate calls, without a server); the
last boots the pack the way the CLI starts it and calls it over gRPC on loopback.
"""

from __future__ import annotations

import importlib
import math
import os
import queue
import subprocess
import sys
import threading
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Secret
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import rules
from policy.rules import Resource
from tests.support.harness import ROOT
from tests.support.policy_server import SECRET_SIG, SECRET_SIG_KEY, to_struct, to_wire
from tests.support.policy_stack import (
    AGENT_POOL,
    CLUSTER,
    DEPLOYMENT,
    JOB,
    KUBECONFIG,
    PROVIDER,
    cpu_container,
    dev_stack,
    find,
    replace,
    res,
    workload,
)


def with_gpu_size(vm_size: str) -> list[Resource]:
    stack = dev_stack()
    pool = find(stack, AGENT_POOL)
    return replace(stack, pool, {**pool.props, "vmSize": vm_size})


def pool_props(**fields) -> dict[str, Any]:
    return {**find(dev_stack(), AGENT_POOL).props, **fields}


# --- The pack as pulumi-policy runs it -----------------------------------------------------------


@pytest.fixture(scope="module")
def pack_module(monkeypatch_module):
    """policy/__main__.py imported as a module, with PolicyPack replaced so that a
    regression (constructing the pack on import) fails instead of starting the server."""
    constructed = []
    monkeypatch_module.setattr("pulumi_policy.PolicyPack", lambda *a, **k: constructed.append(k))
    sys.modules.pop("policy.__main__", None)
    module = importlib.import_module("policy.__main__")
    assert constructed == [], "policy/__main__.py must only build the PolicyPack when run as __main__"
    return module


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


EXPECTED_LEVELS = {
    "gpu-vm-size-not-retired": EnforcementLevel.MANDATORY,
    "gpu-vm-size-retiring-soon": EnforcementLevel.ADVISORY,
    "gpu-pool-tainted": EnforcementLevel.ADVISORY,
    "gpu-workloads-request-gpu": EnforcementLevel.MANDATORY,
    "no-device-plugin-with-managed-gpu": EnforcementLevel.MANDATORY,
    "no-privileged-containers": EnforcementLevel.MANDATORY,
    "kubeconfig-is-secret": EnforcementLevel.REMEDIATE,
    "cluster-rbac-and-managed-identity": EnforcementLevel.MANDATORY,
}


def test_the_pack_wires_every_rule_with_its_level(pack_module):
    policies = pack_module.build_policies()
    assert {p.name: p.enforcement_level for p in policies} == EXPECTED_LEVELS
    assert all(p.description for p in policies)


def analyzer(pack_module) -> _PolicyAnalyzerServicer:
    # The SDK's own gRPC servicer, called in process: exactly the code path the
    # engine's Analyze/AnalyzeStack/Remediate calls take, without a server.
    return _PolicyAnalyzerServicer("aks-gpu", "1.0.0", pack_module.build_policies(), EnforcementLevel.MANDATORY)


def analyze_request(r: Resource) -> proto.AnalyzeRequest:
    return proto.AnalyzeRequest(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))


def test_the_engine_path_passes_the_dev_stack(pack_module):
    service = analyzer(pack_module)
    stack = dev_stack()
    for r in stack:
        response = service.Analyze(analyze_request(r), None)
        assert list(response.diagnostics) == [], r.name
    resources = [
        proto.AnalyzerResource(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))
        for r in stack
    ]
    response = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    assert list(response.diagnostics) == []


def test_the_engine_path_reports_violations_with_their_level(pack_module):
    service = analyzer(pack_module)
    privileged = workload(DEPLOYMENT, "web", {"containers": [cpu_container(securityContext={"privileged": True})]})
    [diagnostic] = service.Analyze(analyze_request(privileged), None).diagnostics
    assert diagnostic.policyName == "no-privileged-containers"
    assert diagnostic.enforcementLevel == proto.MANDATORY and "is privileged" in diagnostic.message

    stack = with_gpu_size("Standard_NC6")
    resources = [
        proto.AnalyzerResource(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))
        for r in stack
    ]
    [diagnostic] = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None).diagnostics
    assert diagnostic.policyName == "gpu-vm-size-not-retired" and diagnostic.urn == find(stack, AGENT_POOL).urn
    assert diagnostic.enforcementLevel == proto.MANDATORY


def test_the_engine_path_tolerates_values_unknown_during_preview(pack_module):
    service = analyzer(pack_module)
    provider = res(PROVIDER, "aks", {"kubeconfig": rules.UNKNOWN})
    pool = res(AGENT_POOL, "gpu-pool", pool_props(vmSize=rules.UNKNOWN, nodeTaints=rules.UNKNOWN))
    for r in (provider, pool):
        assert list(service.Analyze(analyze_request(r), None).diagnostics) == [], r.name


def test_the_engine_path_remediates_a_plain_kubeconfig_only(pack_module):
    service = analyzer(pack_module)
    plain = res(PROVIDER, "aks", {"kubeconfig": KUBECONFIG, "version": "4.34.2"})
    [remediation] = service.Remediate(analyze_request(plain), None).remediations
    assert remediation.policyName == "kubeconfig-is-secret"
    props = dict(remediation.properties)
    assert dict(props["kubeconfig"]) == {SECRET_SIG_KEY: SECRET_SIG, "value": KUBECONFIG}
    assert props["version"] == "4.34.2"

    secret = res(PROVIDER, "aks", {"kubeconfig": Secret(KUBECONFIG), "version": "4.34.2"})
    assert list(service.Remediate(analyze_request(secret), None).remediations) == []
    # A secret that is still unknown in preview stays as it is.
    pending = res(PROVIDER, "aks", {"kubeconfig": Secret(rules.UNKNOWN)})
    assert list(service.Remediate(analyze_request(pending), None).remediations) == []


def test_the_sdk_still_hides_secrecy_from_validations():
    """Pins the pulumi-policy behaviour kubeconfig-is-secret is designed around: a
    validation sees a secret input as a plain string. If a new SDK version exposes
    secrecy to validations, this fails and the rule can become a plain check."""
    seen = []
    policy = ResourceValidationPolicy(
        name="probe", description="probe", validate=lambda args, report: seen.append(args.props["kubeconfig"])
    )
    service = _PolicyAnalyzerServicer("probe", "1.0.0", [policy], EnforcementLevel.MANDATORY)
    service.Analyze(analyze_request(res(PROVIDER, "aks", {"kubeconfig": Secret(KUBECONFIG)})), None)
    assert seen == [KUBECONFIG] and type(seen[0]) is str


def _read_port(process: subprocess.Popen, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


def test_the_pack_boots_the_way_the_cli_starts_it():
    """`pulumi-analyzer-policy-python` runs `python -u -m pulumi.policy <engine> .` in the
    pack's directory; the pack prints its port and serves the Analyzer API on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=ROOT / "policy",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _read_port(process, timeout=120)
        assert port.isdigit(), f"no port printed; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "aks-gpu"
            assert {p.name for p in info.policies} == set(EXPECTED_LEVELS)
            privileged = workload(
                DEPLOYMENT, "web", {"containers": [cpu_container(securityContext={"privileged": True})]}
            )
            response = stub.Analyze(analyze_request(privileged), timeout=30)
            assert [d.policyName for d in response.diagnostics] == ["no-privileged-containers"]
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


# --- NaN and Infinity through the engine path ---------------------------------------------------


def test_the_sdk_still_reads_properties_through_json_format(pack_module):
    """Pins what the adapter's NaN shim relies on: pulumi-policy calls json_format.MessageToDict."""
    import inspect

    import pulumi_policy.policy

    assert "json_format.MessageToDict(request.properties)" in inspect.getsource(pulumi_policy.policy)
    assert isinstance(pulumi_policy.policy.json_format, pack_module._FiniteSafeJsonFormat)
    struct = to_struct({"a": [1.5, {"b": None, "c": True, "d": "x"}], "n": math.nan})
    plain = pack_module.struct_to_plain(struct)
    assert plain["a"] == [1.5, {"b": None, "c": True, "d": "x"}] and math.isnan(plain["n"])


@pytest.mark.parametrize("odd", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_or_infinity_never_crashes_the_pack(pack_module, odd):
    service = analyzer(pack_module)
    stack = dev_stack()
    pool = find(stack, AGENT_POOL)
    spot = res(AGENT_POOL, pool.name, {**pool.props, "scaleSetPriority": "Spot", "spotMaxPrice": odd, "count": odd})
    assert list(service.Analyze(analyze_request(spot), None).diagnostics) == []
    job = find(stack, JOB)
    props = {**job.props, "spec": {**job.props["spec"], "parallelism": odd, "completions": odd}}
    spec = props["spec"]["template"]["spec"]
    container = {**spec["containers"][0], "resources": {"limits": {"nvidia.com/gpu": odd}}}
    props["spec"]["template"] = {**props["spec"]["template"], "spec": {**spec, "containers": [container]}}
    bad_job = Resource(job.type, props, job.urn, job.name)
    assert list(service.Analyze(analyze_request(bad_job), None).diagnostics) == []
    resources = [
        proto.AnalyzerResource(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))
        for r in [*replace(stack, job, props), spot]
    ]
    [diagnostic] = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None).diagnostics
    assert diagnostic.policyName == "gpu-workloads-request-gpu" and diagnostic.urn == job.urn
    deployment = workload(DEPLOYMENT, "web", {"containers": [cpu_container()]})
    deployment = res(DEPLOYMENT, "web", {**deployment.props, "spec": {**deployment.props["spec"], "replicas": odd}})
    assert list(service.Analyze(analyze_request(deployment), None).diagnostics) == []
    provider = res(PROVIDER, "aks", {"kubeconfig": KUBECONFIG, "timeout": odd})
    [remediation] = service.Remediate(analyze_request(provider), None).remediations
    assert remediation.policyName == "kubeconfig-is-secret"


def test_a_cluster_with_nan_passes_through_the_engine_path(pack_module):
    service = analyzer(pack_module)
    cluster = find(dev_stack(), CLUSTER)
    props = {**cluster.props, "agentPoolProfiles": [{**cluster.props["agentPoolProfiles"][0], "count": math.nan}]}
    assert list(service.Analyze(analyze_request(res(CLUSTER, "c", props)), None).diagnostics) == []
