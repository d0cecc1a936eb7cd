"""The policy pack booted the way the Pulumi CLI boots it, and a client that sends it a stack as the engine does.

`pulumi-analyzer-policy-python` runs `python -u -m pulumi.policy <engine> .` in
the pack's directory; the pack prints its port and serves pulumi-policy's
Analyzer over gRPC on loopback. `booted_pack()` does the same and yields a
`PackClient`, whose `diagnostics(stack)` calls Analyze for every resource,
Remediate for every resource and AnalyzeStack once, with the properties
marshalled as the engine marshals them (secrets as the secret signature,
unknowns as the unknown sentinel). Dated rules run on the server's own clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import Secret

from policy import rules
from policy.rules import Resource
from tests.support.harness import ROOT

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
LEVELS = {proto.ADVISORY: rules.ADVISORY, proto.MANDATORY: rules.MANDATORY, proto.REMEDIATE: rules.REMEDIATE}


def to_wire(value: Any) -> Any:
    """Props as the engine marshals them: Secret -> the secret signature, UNKNOWN -> the unknown sentinel."""
    if isinstance(value, Secret):
        return {SECRET_SIG_KEY: SECRET_SIG, "value": to_wire(value.value)}
    if value is rules.UNKNOWN:
        return UNKNOWN_STRING
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def to_struct(props: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(to_wire(dict(props)))
    return struct


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One finding of the pack as the engine receives it."""

    policy: str
    level: str
    urn: str
    message: str


class PackClient:
    """Sends stacks to a running pack over gRPC."""

    def __init__(self, stub: analyzer_pb2_grpc.AnalyzerStub):
        self.stub = stub

    def diagnostics(self, stack: Sequence[Resource]) -> list[Diagnostic]:
        """Every diagnostic (Analyze per resource, AnalyzeStack once) and every remediation the pack offers."""
        found = []
        for r in stack:
            request = proto.AnalyzeRequest(type=r.type, urn=r.urn, name=r.name, properties=to_struct(r.props))
            found += [self._diagnostic(d, r.urn) for d in self.stub.Analyze(request, timeout=60).diagnostics]
            remediations = self.stub.Remediate(request, timeout=60).remediations
            found += [Diagnostic(m.policyName, rules.REMEDIATE, r.urn, "remediated") for m in remediations]
        resources = [
            proto.AnalyzerResource(type=r.type, urn=r.urn, name=r.name, properties=to_struct(r.props)) for r in stack
        ]
        response = self.stub.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), timeout=60)
        return found + [self._diagnostic(d, "") for d in response.diagnostics]

    @staticmethod
    def _diagnostic(d: Any, urn: str) -> Diagnostic:
        return Diagnostic(d.policyName, LEVELS[d.enforcementLevel], d.urn or urn, d.message)


def _read_line(stream: Any, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


@contextlib.contextmanager
def booted_pack(timeout: float = 120) -> Iterator[PackClient]:
    """The pack as its own process, started as the CLI starts it (no PULUMI_* variables of this run leak in)."""
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
        port = _read_line(process.stdout, timeout)
        if not port.isdigit():
            process.kill()
            raise RuntimeError(f"the pack printed no port; stderr: {process.communicate(timeout=30)[1][-2000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield PackClient(analyzer_pb2_grpc.AnalyzerStub(channel))
    finally:
        process.kill()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
