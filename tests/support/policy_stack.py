"""The program's real stack, recorded by the mock harness, shaped as the engine hands it to the policy pack.

`program_stack(overrides)` runs `__main__.py` under the mock engine
(`tests.support.harness.run_program`) and turns each registered resource into a
`rules.Resource`: its inputs with the engine's secret markers kept (the wire form
`rules.is_secret` reads) and the engine's unknown sentinel replaced by
`rules.UNKNOWN`, as `policy/__main__.py` does for the SDK's unknowns.
Plus small builders for the hand-made workloads the tests add to that stack.
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import date
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from policy import rules
from policy.rules import Resource
from tests.support.harness import FAKE_ENTRA_KUBECONFIG, FAKE_KUBECONFIG, Registered, run_program


def engine_value(value: Any) -> Any:
    """A recorded input value as the policy rules see it (secret markers kept, unknowns as `rules.UNKNOWN`)."""
    # The SDK deserialises the engine's unknown sentinel into an Unknown object.
    if isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN):
        return rules.UNKNOWN
    if isinstance(value, dict):
        return {key: engine_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [engine_value(item) for item in value]
    return value


def engine_resource(registered: Registered) -> Resource:
    """One recorded registration as an engine-shaped `rules.Resource`."""
    return Resource(
        type=registered.type, props=engine_value(registered.inputs), urn=registered.urn, name=registered.name
    )


@functools.lru_cache(maxsize=64)
def _cached_stack(key: str, preview: bool) -> tuple[Resource, ...]:
    overrides = json.loads(key)
    # An Entra ID cluster hands out a kubelogin kubeconfig, as AKS does.
    kubeconfig = FAKE_ENTRA_KUBECONFIG if overrides.get("entraId") else FAKE_KUBECONFIG
    run = run_program(overrides or None, preview=preview, user_kubeconfig=kubeconfig)
    return tuple(engine_resource(r) for r in run.resources)


def program_stack(overrides: dict[str, Any] | None = None, *, preview: bool = False) -> list[Resource]:
    """The resources the program registers for the dev stack with these config overrides (a fresh deep copy)."""
    stack = _cached_stack(json.dumps(overrides or {}, sort_keys=True), preview)
    return [Resource(r.type, copy.deepcopy(r.props), r.urn, r.name) for r in stack]


def find(stack: list[Resource], type_: str) -> Resource:
    """The stack's one resource of this type (the first, if several)."""
    return next(r for r in stack if r.type == type_)


def replace(stack: list[Resource], old: Resource, props: dict[str, Any]) -> list[Resource]:
    """The stack with `old`'s props replaced."""
    return [Resource(r.type, props, r.urn, r.name) if r is old else r for r in stack]


def edited(resource: Resource, edit) -> dict[str, Any]:
    """A deep copy of the resource's props after `edit(props)`."""
    props = copy.deepcopy(dict(resource.props))
    edit(props)
    return props


def urn(type_: str, name: str) -> str:
    """A URN of the dev stack."""
    return f"urn:pulumi:dev::aks-gpu::{type_}::{name}"


def res(type_: str, name: str, props: dict[str, Any]) -> Resource:
    """A hand-made resource of the dev stack."""
    return Resource(type=type_, props=props, urn=urn(type_, name), name=name)


def pod_spec_of(props: dict[str, Any]) -> dict[str, Any]:
    """The pod template spec of a workload's props."""
    return props["spec"]["template"]["spec"]


def workload(type_: str, name: str, pod_spec: dict[str, Any], **metadata: Any) -> Resource:
    """A workload of this type with this pod spec."""
    meta = {"name": name, **metadata}
    if type_.endswith(":Pod"):
        return res(type_, name, {"metadata": meta, "spec": pod_spec})
    return res(type_, name, {"metadata": meta, "spec": {"template": {"spec": pod_spec}}})


def cpu_container(**extra: Any) -> dict[str, Any]:
    """An ordinary, well-behaved container (no escalation); `extra` replaces its fields."""
    return {"name": "app", "image": "busybox", "securityContext": {"allowPrivilegeEscalation": False}, **extra}


# --- Vocabulary shared by the policy tests ----------------------------------------------------

TODAY = date(2026, 11, 29)
CLUSTER = rules.MANAGED_CLUSTER
AGENT_POOL = rules.AGENT_POOL
GENERIC = rules.GENERIC_RESOURCE
PROVIDER = rules.K8S_PROVIDER
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
POD = "kubernetes:core/v1:Pod"
NAMESPACE = "kubernetes:core/v1:Namespace"
DYNAMIC = "pulumi-python:dynamic:Resource"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
KUBECONFIG = FAKE_KUBECONFIG
# The dev stack's GPU taint, tolerated the way the program's builders do it.
GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
# The two GPU stacks of the program, by the value of aks-gpu:gpuStack.
GPU_STACKS = {"device-plugin": None, "managed": {"gpuStack": "managed"}}


def dev_stack(gpu_stack: str = "device-plugin") -> list[Resource]:
    """The program's dev stack (Pulumi.dev.yaml), with the device-plugin or the AKS-managed GPU stack."""
    return program_stack(GPU_STACKS[gpu_stack])


def gpu_affinity(pool: str = "gpu") -> dict[str, Any]:
    """A required node affinity on the GPU pool's agentpool and accelerator labels."""
    terms = [
        {
            "matchExpressions": [
                {"key": "kubernetes.azure.com/agentpool", "operator": "In", "values": [pool]},
                {"key": "kubernetes.azure.com/accelerator", "operator": "In", "values": ["nvidia"]},
            ]
        }
    ]
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
