"""Kubernetes objects registered the way pulumi-kubernetes registers them, recorded as the policy pack sees them.

`register(build)` runs `build()` as a Pulumi program under the mock engine (the
recording monitor of `tests.support.harness`) and returns each registered
resource as an engine-shaped `rules.Resource`. `build` declares objects with
the SDK itself: `apiextensions.CustomResource`, or `yaml.ConfigGroup`, whose
YAML the provider's `kubernetes:yaml:decode` call (answered here with PyYAML,
as the provider decodes it) expands into one resource per object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from policy.rules import Resource
from tests.support.harness import PROJECT, _Mocks, _RecordingMonitor
from tests.support.policy_stack import engine_resource


class _DecodingMocks(_Mocks):
    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        if args.token == "kubernetes:yaml:decode":
            return {"result": [doc for doc in yaml.safe_load_all(args.args["text"]) if doc]}
        return super().call(args)


def register(build: Callable[[], None]) -> list[Resource]:
    """The resources `build()` registers, as the policy pack receives their inputs."""
    pulumi.runtime.set_all_config({})
    mock = _DecodingMocks([], preview=False)
    monitor = _RecordingMonitor(mock)
    pulumi.runtime.set_mocks(mock, project=PROJECT, stack="dev", preview=False, monitor=monitor)
    runtime_settings.ROOT.set(None)
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    _sync_await(run_in_stack(build))
    return [engine_resource(r) for r in monitor.registered]
