"""The serialised dynamic providers load in Pulumi's real dynamic-provider process started
outside the project directory, under the current module path and the first release's."""

from __future__ import annotations

import base64
import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

import aks_gpu
from aks_gpu.components.checks import (
    AcceptanceResultProvider,
    ClusterAccessCheckProvider,
    GpuCapacityCheckProvider,
    SampleJobResultProvider,
)


@contextlib.contextmanager
def dynamic_provider_server(cwd: Path, python_path: str = "") -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """`python -m pulumi.dynamic`, as the engine starts it, in `cwd` with the virtualenv's interpreter
    (`python_path`: folders ahead of the installed packages, e.g. the checkout under test)."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=cwd,
        # PYTHONSAFEPATH keeps the working directory off sys.path, as a process
        # started from another folder has it: only installed packages import.
        env={**os.environ, "PYTHONSAFEPATH": "1", "PYTHONPATH": python_path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = int(process.stdout.readline().decode().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.kill()
        process.wait(timeout=10)


def serialised_under(provider, module: str | None) -> str:
    """The provider as the engine stores it, pickled by reference to `module` (None: its own)."""
    cls = type(provider)
    original = cls.__module__
    cls.__module__ = module or original
    try:
        return serialize_provider(provider)
    finally:
        cls.__module__ = original


def props(**values) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


@pytest.mark.parametrize("module", [None, "components.verification"], ids=["current", "first-release"])
@pytest.mark.parametrize("provider", [GpuCapacityCheckProvider(), SampleJobResultProvider()], ids=type)
def test_provider_loads_outside_the_project(tmp_path, provider, module):
    serialised = serialised_under(provider, module)
    if module:
        assert module.encode() in base64.b64decode(serialised)
    olds = props(__provider=serialised, expectedGpus=1, selector="s")
    with dynamic_provider_server(tmp_path) as stub:
        same = stub.Diff(provider_pb2.DiffRequest(id="x", urn="urn", olds=olds, news=olds), timeout=30)
        moved = stub.Diff(
            provider_pb2.DiffRequest(id="x", urn="urn", olds=olds, news=props(__provider=serialised, expectedGpus=2)),
            timeout=30,
        )
    # The provider's own diff ran in that process: unchanged inputs, no change; a new count, a change.
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
    assert moved.changes == provider_pb2.DiffResponse.DIFF_SOME


def test_a_provider_importable_only_from_its_folder_fails_elsewhere(tmp_path, monkeypatch):
    # The first release's failure, reproduced: a provider module found only through the
    # working directory cannot be unpickled by a process started in another folder.
    project = tmp_path / "project"
    project.mkdir()
    (project / "local_checks.py").write_text(
        "from aks_gpu.components.checks import GpuCapacityCheckProvider\n\n\n"
        "class LocalProvider(GpuCapacityCheckProvider):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(project))
    serialised = serialize_provider(importlib.import_module("local_checks").LocalProvider())
    olds = props(__provider=serialised)
    with (
        dynamic_provider_server(tmp_path) as stub,
        pytest.raises(grpc.RpcError, match="No module named 'local_checks'"),
    ):
        stub.Diff(provider_pb2.DiffRequest(id="x", urn="urn", olds=olds, news=olds), timeout=30)


ALL_PROVIDERS = [
    GpuCapacityCheckProvider(),
    ClusterAccessCheckProvider(),
    SampleJobResultProvider(),
    AcceptanceResultProvider(),
]


@pytest.mark.parametrize("provider", ALL_PROVIDERS, ids=type)
def test_refresh_read_delete_and_check_through_the_real_server(tmp_path, provider):
    # The engine's refresh (`pulumi preview --refresh` in the drift pipeline) sends Read
    # with the prior outputs; no cluster is reachable here, so the record must come back as it was.
    serialised = serialize_provider(provider)
    recorded = props(__provider=serialised, namespace="gpu", jobName="job", expectedGpus=1, result={"status": "ok"})
    # The server imports this checkout's aks_gpu (the installed one may be another checkout's).
    checkout = str(Path(aks_gpu.__file__).resolve().parent.parent)
    with dynamic_provider_server(tmp_path, checkout) as stub:
        read = stub.Read(provider_pb2.ReadRequest(id="the-id", urn="urn", properties=recorded), timeout=30)
        stub.Delete(provider_pb2.DeleteRequest(id="the-id", urn="urn", properties=recorded), timeout=30)
        checked = stub.Check(provider_pb2.CheckRequest(urn="urn", olds=recorded, news=recorded), timeout=30)
        moved = stub.Diff(
            provider_pb2.DiffRequest(
                id="the-id", urn="urn", olds=recorded, news=props(__provider=serialised, jobName="other")
            ),
            timeout=30,
        )
    assert read.id == "the-id"
    outs = dict(read.properties)
    assert outs["jobName"] == "job"
    assert outs["result"]["status"] == "ok"
    assert not checked.failures
    assert moved.changes == provider_pb2.DiffResponse.DIFF_SOME


@pytest.mark.parametrize("provider", ALL_PROVIDERS, ids=type)
def test_a_failed_check_reaches_the_user_as_its_message(tmp_path, provider):
    # Create fails (a kubeconfig that is not YAML is the verifier's quickest refusal); the
    # engine prints the error's details, which must be the product's message, not a traceback.
    request_props = props(
        __provider=serialize_provider(provider),
        kubeconfig="not: [valid",
        timeoutSeconds=1,
        expectedGpus=1,
        selector="agentpool=gpu",
        namespace="gpu",
        jobName="job",
    )
    checkout = str(Path(aks_gpu.__file__).resolve().parent.parent)
    with dynamic_provider_server(tmp_path, checkout) as stub, pytest.raises(grpc.RpcError) as failure:
        stub.Create(provider_pb2.CreateRequest(urn="urn", properties=request_props), timeout=30)
    details = failure.value.details()
    assert "The kubeconfig is not valid YAML at line 1, column 12." in details
    assert "Traceback" not in details
    assert 'File "' not in details


def test_capacity_check_update_reruns_the_check_through_the_real_server(tmp_path):
    from tests.support.kube_api_server import KubeApiServer, gpu_node

    serialised = serialize_provider(GpuCapacityCheckProvider())
    checkout = str(Path(aks_gpu.__file__).resolve().parent.parent)
    with KubeApiServer() as server:
        server.put_node(gpu_node("aks-gpu-0", labels={"kubernetes.azure.com/agentpool": "gpu"}))
        base = dict(__provider=serialised, kubeconfig=server.kubeconfig(), timeoutSeconds=20)
        base["selector"] = "kubernetes.azure.com/agentpool=gpu"
        olds = props(**base, expectedGpus=2, verifiedGpus=0)
        with dynamic_provider_server(tmp_path, checkout) as stub:
            updated = stub.Update(
                provider_pb2.UpdateRequest(id="c", urn="urn", olds=olds, news=props(**base, expectedGpus=1)),
                timeout=60,
            )
    outs = dict(updated.properties)
    assert outs["verifiedGpus"] == 1
    assert outs["gpuNodes"][0]["name"] == "aks-gpu-0"
    assert "kubeconfig" not in outs
