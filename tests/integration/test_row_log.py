"""Progress lines reach the check's own row: the real dynamic-provider server, started as the engine starts
it (with the engine's address), sends them to the engine's Log service with the check's URN."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent import futures

import grpc
import pulumi
import pytest
from google.protobuf import empty_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from aks_gpu.components.checks import GpuCapacityCheckProvider
from aks_gpu.components.row_log import RowLog, child_urn, engine_address
from tests.integration.test_dynamic_provider_process import props
from tests.support.harness import ROOT
from tests.support.kube_api_server import KubeApiServer
from tests.support.kube_objects import gpu_node

URN = "urn:pulumi:dev::aks-gpu::aks-gpu:index:GpuVerification$pulumi-python:dynamic:Resource::gpu-verification-capacity"


class FakeEngine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list = []

    def Log(self, request, context):  # noqa: N802 - gRPC name
        self.logs.append(request)
        return empty_pb2.Empty()


@pytest.fixture
def engine():
    fake = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield fake, f"127.0.0.1:{port}"
    server.stop(0)


def test_the_provider_server_sends_progress_to_the_checks_row(engine, tmp_path):
    fake, address = engine
    with KubeApiServer() as kube:
        kube.put_node(gpu_node("aks-gpu-0"))
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", address],
            cwd=tmp_path,
            env={**os.environ, "PYTHONSAFEPATH": "1", "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            port = int(process.stdout.readline().decode().strip())
            inputs = props(
                __provider=serialize_provider(GpuCapacityCheckProvider()),
                kubeconfig=kube.kubeconfig(),
                expectedGpus=1,
                timeoutSeconds=30,
                selector="kubernetes.azure.com/accelerator=nvidia",
                logUrn=URN,
            )
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = provider_pb2_grpc.ResourceProviderStub(channel)
                stub.Create(provider_pb2.CreateRequest(urn=URN, properties=inputs), timeout=60)
        finally:
            process.kill()
            process.wait(timeout=10)

    assert fake.logs, "no progress line reached the engine"
    assert {log.urn for log in fake.logs} == {URN}
    assert all(log.ephemeral for log in fake.logs)
    assert any("1/1 nvidia.com/gpu allocatable" in log.message for log in fake.logs)


def test_without_an_engine_the_line_goes_to_the_stacks_row(monkeypatch):
    # pulumi.log.info: the stack's row (stderr in the provider server; another test may have set an engine).
    lines: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lines.append)
    RowLog(URN, address="127.0.0.1:1")("still waiting")  # nothing listens there
    RowLog(None)("no urn")
    assert lines == ["still waiting", "no urn"]


def test_child_urns_and_engine_addresses():
    parent = "urn:pulumi:dev::aks-gpu::aks-gpu:index:GpuVerification::gpu-verification"
    assert child_urn(parent, "pulumi-python:dynamic:Resource", "gpu-verification-capacity") == URN
    stack = "urn:pulumi:dev::aks-gpu::pulumi:pulumi:Stack::aks-gpu-dev"
    assert child_urn(stack, "t:m:T", "x") == "urn:pulumi:dev::aks-gpu::t:m:T::x"
    assert engine_address(["prog", "127.0.0.1:41234"]) == "127.0.0.1:41234"
    assert engine_address(["prog"]) is None
    assert engine_address(["prog", "--flag"]) is None
