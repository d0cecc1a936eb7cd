"""The aks-gpu policy pack: wires `policy/rules/` into pulumi-policy.

Run it as the pipelines do, from the repository root:

    pulumi preview --policy-pack policy

Nothing here decides anything; it adapts the SDK's callbacks to the plain rule
functions. Constructing `PolicyPack` starts the pack's gRPC server and blocks
forever, so it only happens when the Pulumi CLI runs this file as `__main__`;
tests import `build_policies()` instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# The CLI runs this file by path from inside policy/ (`python -m pulumi.policy <engine> .`),
# so `policy.rules` is importable only with the checkout's root on sys.path. The same
# root also provides `aks_gpu` (the facts the rules check) when the pack runs in a
# virtualenv of its own built from policy/requirements.txt; in the project's .venv
# `aks_gpu` is installed editable from this same checkout, so both paths load the
# same files. With a non-editable install the checkout's copy still comes first. The
# rules read the checkout's Pulumi.yaml (policy/rules/gpu_rules.py), so the pack runs
# from a checkout either way and is not published on its own.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import pulumi_policy.policy  # noqa: E402  (needs the path above)
from google.protobuf import json_format, struct_pb2  # noqa: E402
from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError  # noqa: E402

from policy import rules  # noqa: E402

PACK_NAME = "aks-gpu"


def value_to_plain(value: struct_pb2.Value) -> Any:
    """A protobuf Value as Python data, NaN and the infinities kept as floats."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_plain(value.struct_value)
    if kind == "list_value":
        return [value_to_plain(v) for v in value.list_value.values]
    if kind in (None, "null_value"):
        return None
    return getattr(value, kind)


def struct_to_plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A protobuf Struct as a dict, the way `json_format.MessageToDict` returns one for finite numbers."""
    return {key: value_to_plain(value) for key, value in struct.fields.items()}


class _FiniteSafeJsonFormat:
    """`json_format` for pulumi-policy, except that a Struct becomes a dict without a JSON round trip.

    The engine may send NaN or Infinity (a `gpuSpotMaxPrice: nan`, a replica count);
    `MessageToDict` refuses them with ValueError before any policy runs, which fails
    the whole pack. Reading the Struct directly hands them to the rules, which
    treat them as the non-numbers they are.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    @staticmethod
    def MessageToDict(message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802  (the SDK's name)
        """`json_format.MessageToDict`, with Structs converted by `struct_to_plain`."""
        if isinstance(message, struct_pb2.Struct) and not args and not kwargs:
            return struct_to_plain(message)
        return json_format.MessageToDict(message, *args, **kwargs)


# pulumi-policy 1.21 calls json_format.MessageToDict on every request's properties
# (policy.py: Analyze, AnalyzeStack, Remediate); tests pin that this still holds.
pulumi_policy.policy.json_format = _FiniteSafeJsonFormat()


def to_plain(value: Any) -> Any:
    """pulumi-policy's read-only proxies as plain dicts and lists.

    The SDK wraps inputs so that reading a value unknown during preview raises
    `UnknownValueError`; that would abort the whole rule, so each unknown value is
    replaced by `rules.UNKNOWN` and the rule decides what an unknown means.
    """
    if isinstance(value, Mapping):
        plain = {}
        for key in value:
            try:
                plain[key] = to_plain(value[key])
            except UnknownValueError:
                plain[key] = rules.UNKNOWN
        return plain
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(to_plain(value[index]))
            except UnknownValueError:
                items.append(rules.UNKNOWN)
        return items
    return value


def raw_inputs(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The inputs with their secret markers, as a remediation receives them.

    pulumi-policy 1.21 deserialises a remediation's inputs keeping secrets as
    `pulumi_policy.Secret` and wraps them in a proxy whose item access unwraps
    them again; the proxy's own serialiser reaches the marked values through the
    `"__target"` key, and so does this (tests pin the SDK behaviour this relies on).
    Validations never get the markers: the SDK strips them before they run.
    """
    try:
        return props["__target"]
    except KeyError:
        return props


def _resource_validation(rule: rules.Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, to_plain(args.props)):
            report_violation(message, None)

    return validate


def _remediation(rule: rules.Rule) -> Callable[[ResourceValidationArgs], dict | None]:
    def remediate(args: ResourceValidationArgs) -> dict | None:
        return rule.remediate(args.resource_type, raw_inputs(args.props))

    return remediate


def _stack_validation(rule: rules.Rule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            rules.Resource(type=r.resource_type, props=to_plain(r.props), urn=r.urn, name=r.name)
            for r in args.resources
        ]
        for violation in rule.check(resources):
            report_violation(violation.message, violation.urn or None)

    return validate


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """One pulumi-policy policy per rule in `rules.RULES`, at the rule's own enforcement level."""
    policies: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in rules.RULES:
        common = {
            "name": rule.name,
            "description": rule.description,
            "enforcement_level": EnforcementLevel(rule.enforcement),
            "severity": Severity(rule.severity),
        }
        if rule.scope == "stack":
            policies.append(StackValidationPolicy(validate=_stack_validation(rule), **common))
        else:
            policies.append(
                ResourceValidationPolicy(
                    validate=_resource_validation(rule),
                    remediate=_remediation(rule) if rule.remediate else None,
                    **common,
                )
            )
    return policies


if __name__ == "__main__":
    PolicyPack(
        name=PACK_NAME,
        description="Review-time guard rails for the aks-gpu program.",
        # Each rule sets its own level; this only covers a rule that forgets to.
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=build_policies(),
    )
