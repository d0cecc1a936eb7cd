"""What the pod prints: a compact table people read, and the JSON lines the verifier parses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import EXIT_FAILED, EXIT_NOT_RUN, EXIT_PASSED
from .spec import finite

# How a check's verdict shows in a table cell after the figure.
MARKS = {"pass": "", "fail": " LOW", "uncalibrated": " ?"}
COLUMNS = ("matmul", "copy", "h2d", "d2h", "p2p")


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def format_line(marker: str, payload: Mapping[str, Any]) -> str:
    """`MARKER {json}` on one line; non-finite numbers become null so that the JSON stays strict."""
    return f"{marker} {json.dumps(_clean(dict(payload)), separators=(',', ':'), allow_nan=False)}"


def cell(check: Mapping[str, Any] | None) -> str:
    """`value/floor` and a mark: ' LOW' failed, ' ?' uncalibrated; '-' when the check does not apply."""
    if not check:
        return "-"
    value, floor = check.get("value"), check.get("floor")
    shown = "n/m" if value is None else f"{value:.1f}"
    return f"{shown}/{'-' if floor is None else f'{floor:.0f}'}{MARKS.get(check.get('status', ''), '')}"


def table(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per device: index, model, each figure against its floor, the verdict."""
    header = ["GPU", "model", "matmul TFLOP/s", "copy GB/s", "h2d GB/s", "d2h GB/s", "p2p GB/s", "verdict"]
    rows = [header]
    for record in records:
        checks = {check["name"]: check for check in record.get("checks", [])}
        verdict = "PASSED" if record.get("passed") else "FAILED"
        rows.append(
            [str(record.get("index")), str(record.get("model")), *(cell(checks.get(c)) for c in COLUMNS), verdict]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return [*lines, "(value/floor; LOW: below the floor; ?: uncalibrated, no measured reference for this model)"]


def sources(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(check name, where its floor comes from) for each check of the records, once each."""
    found: dict[str, str] = {}
    for record in records:
        for check in record.get("checks", []):
            found.setdefault(check["name"], f"{check.get('basis')}: {check.get('source') or 'no floor'}")
    return list(found.items())


def failure_lines(node: str | None, records: Sequence[Mapping[str, Any]], reasons: Sequence[str]) -> list[str]:
    """One line per failing device, then one per node-level reason."""
    lines = [
        f"FAILED node {node} GPU {record.get('index')}: " + "; ".join(record.get("reasons") or ["marked failed"])
        for record in records
        if not record.get("passed")
    ]
    return lines + [f"FAILED node {node}: {reason}" for reason in reasons]


def exit_code(records: Sequence[Mapping[str, Any]], node_reasons: Sequence[str]) -> int:
    """EXIT_PASSED when every record and the node passed, EXIT_FAILED when not, EXIT_NOT_RUN without records."""
    if not records:
        return EXIT_NOT_RUN
    ok = all(record.get("passed") is True for record in records) and not node_reasons
    return EXIT_PASSED if ok else EXIT_FAILED


def summary(
    node: str | None,
    records: Sequence[Mapping[str, Any]],
    *,
    checks: Sequence[Mapping[str, Any]] = (),
    reasons: Sequence[str] = (),
    error: str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """The node's summary payload and the exit code."""
    code = EXIT_NOT_RUN if error else exit_code(records, reasons)
    passed = sum(1 for record in records if record.get("passed") is True)
    payload: dict[str, Any] = {
        "node": node,
        "devices": len(records),
        "passedDevices": passed,
        "passed": code == EXIT_PASSED,
    }
    payload.update(exitCode=code, error=error, checks=list(checks), reasons=list(reasons), **(facts or {}))
    return payload, code
