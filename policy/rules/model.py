"""The shared model of the rules: levels, `UNKNOWN`, `Resource`, `Violation`, `Rule`, and value helpers.

Properties arrive shaped the way the Pulumi engine hands them to a policy pack:
camelCase names, dicts and lists, numbers as floats (possibly NaN or infinite),
secrets marked, and `UNKNOWN` wherever a preview cannot know a value yet. The
helpers here read such values without ever raising, so a rule decides what a
missing, odd or unknown value means instead of crashing the pack.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pulumi_policy import Secret

MANDATORY = "mandatory"
ADVISORY = "advisory"
# A remediation rewrites the resource's inputs before the engine uses them.
REMEDIATE = "remediate"

# The engine's wire form of a secret, should a raw value ever reach a rule.
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# Kubernetes integer quantities are ASCII digits; Python's int() also takes "１" and "1_0".
_ASCII_INT = re.compile(r"[+]?[0-9]+")


class _Unknown:
    """A value the engine will only know once the resource exists (preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclasses.dataclass(frozen=True)
class Resource:
    """One resource of the stack as a stack rule sees it."""

    type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Violation:
    """A stack rule's finding; `urn` names the offending resource."""

    message: str
    urn: str = ""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One policy: its name, description, level, scope and check (and remediation, for REMEDIATE rules)."""

    name: str
    description: str
    enforcement: str
    severity: str
    scope: str  # "resource" or "stack"
    # resource rules: (resource_type, props) -> [message]
    # stack rules: (resources, today=None) -> [Violation]; `today` makes dated rules testable
    check: Callable[..., list]
    # REMEDIATE rules: (resource_type, raw_props) -> why the inputs need rewriting, or None ...
    needs_remediation: Callable[[str, Mapping[str, Any]], str | None] | None = None
    # ... and (resource_type, raw_props) -> the rewritten inputs, or None.
    remediate: Callable[[str, Mapping[str, Any]], dict | None] | None = None


def is_unknown(value: Any) -> bool:
    """Whether the engine does not know `value` yet (preview)."""
    return value is UNKNOWN


def is_secret(value: Any) -> bool:
    """Whether `value` is marked secret, in either form a policy pack can meet it."""
    if isinstance(value, Secret):
        return True
    return isinstance(value, Mapping) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG


def reveal(value: Any) -> Any:
    """The plain value behind a secret marker (rules that do not care about secrecy)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, Mapping) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG:
        return reveal(value.get("value"))
    return value


def get(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None when a step is missing; UNKNOWN propagates."""
    for key in path:
        obj = reveal(obj)
        if is_unknown(obj):
            return UNKNOWN
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return reveal(obj)


def text(value: Any) -> str | None:
    """The value if it is a string, else None."""
    value = reveal(value)
    return value if isinstance(value, str) else None


def items(value: Any) -> list:
    """The value if it is a list, else an empty list."""
    value = reveal(value)
    return list(value) if isinstance(value, (list, tuple)) else []


def mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a mapping, else an empty one."""
    value = reveal(value)
    return value if isinstance(value, Mapping) else {}


def same(a: str | None, b: str) -> bool:
    """Case-insensitive equality, as Azure compares names; None equals nothing."""
    return a is not None and a.lower() == b.lower()


def positive_int(value: Any) -> bool:
    """A whole number >= 1. The engine sends numbers as doubles (1.0), manifests may say "1".

    NaN and the infinities are not numbers of anything, so they are never positive integers.
    """
    value = reveal(value)
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value) and value >= 1 and float(value).is_integer()
    return isinstance(value, str) and _ASCII_INT.fullmatch(value) is not None and int(value) >= 1


def today_utc() -> date:
    """Today's date in UTC, the reference for dated rules."""
    return datetime.now(UTC).date()
