"""Progress lines of a check on the check's own row of `pulumi up`, where the engine allows it.

What the SDK's Python dynamic-provider server allows (pulumi/dynamic/__main__.py,
pulumi 3.272): it configures no engine connection (pulumi/pulumi#6065, open), and
`create` is not told its resource's URN. So `pulumi.log.info` there falls back
to printing `info: ...` on the server's stderr, which the engine shows as a
message of no resource: on the stack's row. Two things make the check's own
row reachable anyway:

- the engine starts every resource provider with its host's gRPC address as the
  only argument, and the SDK's launcher passes it on to `python -m pulumi.dynamic`
  (`sys.argv[1]` in that process), which serves the Engine service's `Log`;
- a child's URN follows from its parent's (`child_urn`): the program passes the
  check's URN in as an input.

`RowLog` sends each line to `Log` with that URN, as an ephemeral status message
(the row's status column, as pulumi-kubernetes' await messages are); when there
is no address or URN, or the engine refuses, it falls back to `pulumi.log.info`
for the rest of the check. Whether the CLI renders it on the row is the CLI's
doing; the tests prove what is sent, not what a terminal shows.
"""

from __future__ import annotations

import re
import sys

import grpc
import pulumi
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

# The type token of a Python dynamic resource without a custom name (pulumi/dynamic/dynamic.py).
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
_ADDRESS = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]|[0-9a-fA-F:.]+):\d{1,5}")
LOG_TIMEOUT_SECONDS = 5.0


def child_urn(parent_urn: str, child_type: str, child_name: str) -> str:
    """The URN of a child of `parent_urn`: the parent's qualified type, `$`, the child's type, its name.

    A URN is urn:pulumi:<stack>::<project>::<qualified type>::<name>; a stack's direct
    children have their own type only (pulumi docs, "Resource names: URNs").
    """
    prefix, parent_type, _name = parent_urn.rsplit("::", 2)
    qualified = child_type if parent_type == "pulumi:pulumi:Stack" else f"{parent_type}${child_type}"
    return f"{prefix}::{qualified}::{child_name}"


def engine_address(argv: list[str] | None = None) -> str | None:
    """The engine's address the provider server was started with (its only argument), if it has one."""
    args = sys.argv if argv is None else argv
    return args[1] if len(args) > 1 and _ADDRESS.fullmatch(args[1]) else None


class RowLog:
    """Call with a line: it goes to the row of `urn` through the engine, else to `pulumi.log.info`."""

    def __init__(self, urn: str | None, address: str | None = None) -> None:
        self._urn = urn
        address = address or engine_address()
        self._channel = grpc.insecure_channel(address) if urn and address else None
        self._stub = engine_pb2_grpc.EngineStub(self._channel) if self._channel else None

    def __call__(self, line: str) -> None:
        """Send one progress line."""
        if self._stub is not None:
            request = engine_pb2.LogRequest(severity=engine_pb2.INFO, message=line, urn=self._urn or "", ephemeral=True)
            try:
                self._stub.Log(request, timeout=LOG_TIMEOUT_SECONDS)
                return
            except grpc.RpcError:
                self._stub = None  # the engine is not there: the stack's row it is, from now on
        pulumi.log.info(line)

    def close(self) -> None:
        """Close the engine channel, if one was opened."""
        if self._channel is not None:
            self._channel.close()
