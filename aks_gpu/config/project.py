"""The project's config declaration (`Pulumi.yaml`) and the reader that validates values against it.

`Pulumi.yaml` is the single declaration of every key, its type and its default;
the settings modules read defaults from it and never restate them. `ConfigReader`
converts raw values (strings from the engine, or native values in tests) and
records a problem instead of raising, so every bad value is reported at once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.errors import RunError

PROJECT = "aks-gpu"
# The package is installed editable from the project checkout (requirements.txt: -e .),
# so the project file sits two folders above this one.
PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"


class SettingsError(RunError, ValueError):
    """Every problem found in the stack's config, one line each.

    A RunError, so Pulumi prints the message alone rather than a stack trace.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "The stack configuration has "
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing was created:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@functools.cache
def _load(project_file: Path) -> dict[str, dict[str, Any]]:
    project = yaml.safe_load(project_file.read_text())
    return {
        key.split(":", 1)[-1]: spec
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict) and ":" not in key
    }


def declared_keys(project_file: Path = PROJECT_FILE) -> dict[str, dict[str, Any]]:
    """The project's config declarations from Pulumi.yaml, keyed without namespace.

    Each value is the declaration: `type`, `default`, `description` (and `items` for arrays).
    """
    return dict(_load(project_file))


def declared_default(key: str) -> Any:
    """The default `Pulumi.yaml` declares for `key` (KeyError for an undeclared key)."""
    return _load(PROJECT_FILE)[key]["default"]


def with_defaults(raw: Mapping[str, Any], declared: Mapping[str, dict]) -> dict[str, Any]:
    """Every declared key's value: the raw one where given, else the declared default."""
    values = {}
    for key, spec in declared.items():
        value = raw.get(key)
        values[key] = spec.get("default") if value is None else value
    return values


class ConfigReader:
    """Typed access to config values; a bad value becomes a problem line, not an exception.

    Each accessor returns a usable placeholder after recording a problem, so the
    caller can go on and find the next one; `SettingsError` is raised once at the end.
    """

    def __init__(self, values: Mapping[str, Any], problems: list[str]):
        self.values = values
        self.problems = problems

    def fail(self, key: str, value: Any, allowed: str) -> None:
        """Record that `key` = `value` is refused, saying what is allowed."""
        self.problems.append(f"{PROJECT}:{key} = {json.dumps(value)} is not allowed: {allowed}")

    def string(self, key: str) -> str:
        """The value as stripped text ('' when unset)."""
        value = self.values[key]
        return "" if value is None else str(value).strip()

    def optional(self, key: str) -> str | None:
        """The value as text, or None when empty."""
        return self.string(key) or None

    def integer(self, key: str, low: int, high: int, what: str = "") -> int:
        """A whole number in [low, high]; `what` replaces the default description of what is allowed."""
        value = self.values[key]
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            self.fail(key, value, what or f"a whole number from {low} to {high}")
            return low
        return number

    def number(self, key: str) -> float:
        """A number (float)."""
        value = self.values[key]
        try:
            return float(str(value).strip())
        except ValueError:
            self.fail(key, value, "a number")
            return -1.0

    def boolean(self, key: str) -> bool:
        """true or false (the engine sends them as strings)."""
        value = self.values[key]
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        self.fail(key, value, "true or false")
        return False

    def string_list(self, key: str) -> tuple[str, ...]:
        """A list of strings (the engine sends lists as JSON text)."""
        value = original = self.values[key]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                self.fail(key, value, 'a list of strings, e.g. ["a", "b"]')
                return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, original, "a list of strings")
            return ()
        return tuple(value)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """One of `allowed`."""
        value = self.string(key)
        if value not in allowed:
            self.fail(key, value, "one of " + ", ".join(allowed))
            return allowed[0]
        return value

    def matching(self, key: str, pattern: re.Pattern, allowed: str) -> str | None:
        """Text that `pattern` matches in full, or None when empty."""
        value = self.optional(key)
        if value is not None and not pattern.fullmatch(value):
            self.fail(key, value, allowed)
        return value
