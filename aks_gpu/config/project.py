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
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml
from pulumi.errors import RunError

from aks_gpu.config import validate

PROJECT = "aks-gpu"
PROJECT_FILE_NAME = "Pulumi.yaml"


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


def project_file() -> Path:
    """The `Pulumi.yaml` of the project being run, found where the engine found it.

    The engine reads the project file from the project folder, not from wherever this
    package is installed (a non-editable `pip install .` puts it in site-packages).
    The SDK reports that folder (`pulumi.runtime.get_root_directory`) when the language
    host passes it; otherwise the host has made the program's folder the working
    directory (`--pwd`), and the file is there or in a parent, as the CLI searches.
    Raises RunError naming where it looked when there is none.
    """
    root = pulumi.runtime.get_root_directory()
    # Without a language host the SDK's placeholder is the relative name "root_directory".
    starts = [Path(root)] if root and Path(root).is_absolute() else []
    cwd = Path.cwd()
    starts += [cwd, *cwd.parents]
    for folder in starts:
        candidate = folder / PROJECT_FILE_NAME
        if candidate.is_file():
            return candidate.resolve()
    raise RunError(
        f"{PROJECT_FILE_NAME} of project {PROJECT} not found in {starts[0]} or any folder above it: "
        "run the program through `pulumi` from the project folder (it holds Pulumi.yaml, "
        "Pulumi.<stack>.yaml and __main__.py)"
    )


@functools.cache
def _load(path: Path) -> dict[str, dict[str, Any]]:
    project = yaml.safe_load(path.read_text())
    return {
        key.split(":", 1)[-1]: spec
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict) and ":" not in key
    }


def declared_keys(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The project's config declarations from Pulumi.yaml (`path`, else `project_file()`), keyed without namespace.

    Each value is the declaration: `type`, `default`, `description` (and `items` for arrays).
    """
    return dict(_load(path or project_file()))


def declared_default(key: str) -> Any:
    """The default the project's `Pulumi.yaml` declares for `key` (KeyError for an undeclared key)."""
    return _load(project_file())[key]["default"]


def with_defaults(raw: Mapping[str, Any], declared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Every declared key's value: the raw one where given, else the declared default."""
    values: dict[str, Any] = {}
    for key, spec in declared.items():
        value = raw.get(key)
        values[key] = spec.get("default") if value is None else value
    return values


# A closed set of string values (a Literal type) that `ConfigReader.choice` keeps typed.
Choice = TypeVar("Choice", bound=str)


class ConfigReader:
    """Typed access to config values; a bad value becomes a problem line, not an exception.

    Each accessor returns a usable placeholder after recording a problem, so the
    caller can go on and find the next one; `SettingsError` is raised once at the end.
    """

    def __init__(self, values: Mapping[str, Any], problems: list[str]):
        self.values = values
        self.problems = problems
        # Keys already refused, so later checks of the same key do not pile on.
        self.refused: set[str] = set()

    def fail(self, key: str, value: Any, allowed: str) -> None:
        """Record that `key` = `value` is refused, saying what is allowed (long values shortened)."""
        self.refused.add(key)
        self.problems.append(f"{PROJECT}:{key} = {shorten(value)} is not allowed: {allowed}")

    def _text(self, key: str, control_allowed: str = "") -> str | None:
        """The raw value as text, or None (recorded) when it is too long or has control characters."""
        value = self.values[key]
        try:
            text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, list) else str(value)
        except RecursionError:
            self.fail(key, value, f"a flat list of strings, not nested more than {validate.MAX_JSON_DEPTH} deep")
            return None
        if len(text) > validate.MAX_VALUE_CHARS:
            self.fail(key, value, f"a value of at most {validate.MAX_VALUE_CHARS} characters (it has {len(text)})")
            return None
        problem = validate.control_character(text, control_allowed)
        if problem:
            self.fail(key, value, problem)
            return None
        return text

    def string(self, key: str) -> str:
        """The value as stripped text ('' when unset or refused)."""
        if self.values[key] is None:
            return ""
        return (self._text(key) or "").strip()

    def optional(self, key: str) -> str | None:
        """The value as text, or None when empty."""
        return self.string(key) or None

    def integer(self, key: str, low: int, high: int, what: str = "") -> int:
        """A whole number in [low, high] in ASCII digits; `what` replaces the description of what is allowed."""
        value = self.values[key]
        text = self._text(key)
        if text is None:
            return low
        number = validate.ascii_integer(text.strip())
        if number is None or isinstance(value, bool) or not low <= number <= high:
            self.fail(key, value, what or f"a whole number from {low} to {high}")
            return low
        return number

    def number(self, key: str, max_decimals: int | None = None) -> float:
        """A finite number in ASCII digits (not NaN or Infinity), with at most `max_decimals` decimals."""
        value = self.values[key]
        text = (self._text(key) or "").strip()
        number = None if isinstance(value, bool) else validate.finite_number(text)
        if number is None:
            self.fail(key, value, "a number in digits 0-9, e.g. 0.5 (finite: not NaN or Infinity)")
            return -1.0
        if max_decimals is not None and validate.decimals(text) > max_decimals:
            self.fail(key, value, f"a number with at most {max_decimals} decimal places")
        return number

    def boolean(self, key: str) -> bool:
        """true or false (the engine sends them as strings)."""
        value = self.values[key]
        if isinstance(value, bool):
            return value
        text = (self._text(key) or "").strip().lower()
        if text in ("true", "false"):
            return text == "true"
        self.fail(key, value, "true or false")
        return False

    def string_list(self, key: str, control_allowed: str = "") -> tuple[str, ...]:
        """A flat list of strings (the engine sends lists as JSON text), bounded before it is parsed."""
        original = self.values[key]
        text = self._text(key, control_allowed="\t\n\r" if isinstance(original, str) else "")
        if text is None:
            return ()
        if validate.json_too_deep(text):
            self.fail(key, original, f"a flat list of strings, not nested more than {validate.MAX_JSON_DEPTH} deep")
            return ()
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            self.fail(key, original, 'a list of strings, e.g. ["a", "b"]')
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, original, "a list of strings")
            return ()
        items = []
        for item in value:
            problem = validate.control_character(item, control_allowed)
            if problem:
                self.fail(key, item, problem)
            else:
                items.append(item)
        return tuple(items)

    def choice(self, key: str, allowed: tuple[Choice, ...]) -> Choice:
        """One of `allowed` (typed as they are: a tuple of a Literal type gives that type)."""
        value = self.string(key)
        for option in allowed:
            if value == option:
                return option
        self.fail(key, value, "one of " + ", ".join(allowed))
        return allowed[0]

    def matching(self, key: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        """Text that `pattern` matches in full, or None when empty."""
        value = self.optional(key)
        if value is not None and not pattern.fullmatch(value):
            self.fail(key, value, allowed)
        return value


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxlist = _SHORT.maxdict = 4
# Values longer than this are shown by their start and length in problem lines.
SHOWN_CHARS = 80


def shorten(value: Any) -> str:
    """A value as a problem line shows it: JSON for scalars, cut after SHOWN_CHARS with the full length."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = json.dumps(value, ensure_ascii=True)
    else:
        # reprlib stops at a fixed depth, so a deeply nested value cannot recurse without bound.
        text = _SHORT.repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:SHOWN_CHARS]}... ({length} characters)"
