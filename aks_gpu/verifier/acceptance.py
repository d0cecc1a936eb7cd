"""Read the GPU acceptance pod's log (aks_gpu/workloads/gpu_acceptance/) and explain its failures.

Standard library only, no Pulumi. The markers come from the script module itself, so the writer and the reader
cannot drift apart; that package imports nothing but the standard library at import time. Logs of the
single-file script that came before (flat figures, no `checks`) still parse.

`parse_acceptance_log(text)` never raises on bad input: a log may be cut short, mixed with other output, carry
`kubectl logs --timestamps` prefixes, or hold numbers that are not finite. Every number it returns is a finite
float or None.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from aks_gpu.workloads.gpu_acceptance import RECORD_MARKER, SUMMARY_MARKER

__all__ = [
    "RECORD_MARKER",
    "SUMMARY_MARKER",
    "acceptance_failures",
    "format_acceptance_failures",
    "parse_acceptance_log",
]

_NUMBERS: tuple[str, ...] = ("memoryGiB", "tflops", "expectedTflops", "gbps", "expectedGbps", "minFraction", "accuracy")
_NUMBERS += ("targetAccuracy", "maxRelError", "matmul", "copy", "h2d", "d2h", "p2p", "loadedSeconds")
_INTEGERS = ("index", "steps", "matrixSize")
_TEXTS = ("node", "uuid", "model", "driverVersion", "cudaVersion", "dtype")
_CHECK_TEXTS = ("name", "unit", "basis", "source", "status")
_CHECK_NUMBERS = ("value", "floor", "reference")
STATUSES = ("pass", "fail", "uncalibrated")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value) if math.isfinite(value) else None
    except OverflowError:  # an integer too large for a float
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _payload(line: str, marker: str) -> dict[str, Any] | None:
    """The JSON object after `marker ` in `line` (the marker at the start or after a timestamp), else None."""
    at = line.find(marker + " ")
    if at < 0 or (at > 0 and not line[at - 1].isspace()):
        return None
    try:
        # json accepts NaN and Infinity; _number turns them into None.
        data = json.loads(line[at + len(marker) + 1 :])
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _texts(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _checks(value: Any) -> list[dict[str, Any]]:
    """The `checks` list: each {"name", "value", "unit", "floor", "reference", "basis", "source", "status"}."""
    checks = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            check: dict[str, Any] = {key: _text(item.get(key)) for key in _CHECK_TEXTS}
            check.update({key: _number(item.get(key)) for key in _CHECK_NUMBERS})
            check["status"] = check["status"] if check["status"] in STATUSES else "fail"
            checks.append(check)
    return checks


def _record(data: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {key: _number(data.get(key)) for key in _NUMBERS}
    record.update({key: _integer(data.get(key)) for key in _INTEGERS})
    record.update({key: _text(data.get(key)) for key in _TEXTS})
    record.update(checks=_checks(data.get("checks")), health=_texts(data.get("health")))
    record["reasons"] = _texts(data.get("reasons"))
    record["passed"] = data.get("passed") is True and not record["reasons"]
    return record


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "node": _text(data.get("node")),
        "devices": _integer(data.get("devices")),
        "passedDevices": _integer(data.get("passedDevices")),
        "passed": data.get("passed") is True and not _texts(data.get("reasons")),
        "exitCode": _integer(data.get("exitCode")),
        "error": _text(data.get("error")),
        "checks": _checks(data.get("checks")),
        "reasons": _texts(data.get("reasons")),
        "seconds": _number(data.get("seconds")),
        "gpus": _integer(data.get("gpus")),
        "concurrent": data.get("concurrent") if isinstance(data.get("concurrent"), bool) else None,
    }


def parse_acceptance_log(text: Any) -> dict[str, Any]:
    """One pod's log as {"records": [...], "summary": dict | None, "malformed": int, "passed": bool}.

    `records` holds one dict per `AKS_GPU_ACCEPTANCE` line, with the script's keys (numbers finite or None,
    `passed` true only with no reasons); `summary` is the last `AKS_GPU_ACCEPTANCE_SUMMARY` line, None when the
    log has none (the pod did not finish, or the log was cut); `malformed` counts marker lines whose JSON could
    not be read; `passed` is true only when the summary says so and every record passed.
    """
    records: list[dict[str, Any]] = []
    summary: dict[str, Any] | None = None
    malformed = 0
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    lines = text.splitlines() if isinstance(text, str) else []
    for line in lines:
        if SUMMARY_MARKER + " " in line:
            data = _payload(line, SUMMARY_MARKER)
            summary = _summary(data) if data is not None else summary
        elif RECORD_MARKER + " " in line:
            data = _payload(line, RECORD_MARKER)
            if data is not None:
                records.append(_record(data))
        else:
            continue
        malformed += data is None
    passed = bool(summary and summary["passed"] and records) and all(record["passed"] for record in records)
    return {"records": records, "summary": summary, "malformed": malformed, "passed": passed}


def _figure(value: float | None, digits: int = 1) -> str:
    return "not measured" if value is None else f"{value:.{digits}f}"


def _describe(record: Mapping[str, Any], node: str | None) -> str:
    device = f"GPU {record.get('index')}" + (f" ({record['model']})" if record.get("model") else "")
    where = f"node {record.get('node') or node or '?'} {device}"
    if record.get("checks"):  # the package's records: each reason names its figure, floor and source
        return f"{where}: " + ("; ".join(record.get("reasons") or []) or "marked failed")
    return _describe_flat(record, where)


def _describe_flat(record: Mapping[str, Any], where: str) -> str:
    fraction = record.get("minFraction")
    need = f">= {fraction:g} x " if fraction is not None else ""
    figures = (
        f"{record.get('dtype') or 'matmul'} matmul {_figure(record.get('tflops'))} TFLOP/s "
        f"(expected {need}{_figure(record.get('expectedTflops'), 0)}), "
        f"copy {_figure(record.get('gbps'))} GB/s (expected {need}{_figure(record.get('expectedGbps'), 0)}), "
        f"accuracy {_figure(record.get('accuracy'), 4)} (target {_figure(record.get('targetAccuracy'), 2)})"
    )
    reasons = "; ".join(record.get("reasons") or []) or "marked failed"
    return f"{where}: {reasons} [{figures}]"


def acceptance_failures(parsed: Mapping[str, Any], node: str | None = None) -> list[str]:
    """One message per failed device, or for a log without a verdict; empty when the log shows a full pass.

    `parsed` is what parse_acceptance_log returned; `node` names the node when the log does not.
    """
    summary = parsed.get("summary") or {}
    where = f"node {summary.get('node') or node or '?'}"
    messages = [_describe(record, node) for record in parsed.get("records", []) if not record.get("passed")]
    messages += [f"{where}: {reason}" for reason in summary.get("reasons") or []]
    if summary.get("error"):
        messages.append(f"{where}: the acceptance test could not run: {summary['error']}")
    elif not parsed.get("summary"):
        messages.append(f"{where}: the log has no {SUMMARY_MARKER} line (the test did not finish, or the log is cut)")
    elif not parsed.get("records"):
        messages.append(f"{where}: the log has no {RECORD_MARKER} lines")
    elif not messages and not summary.get("passed"):
        messages.append(f"{where}: the summary reports a failure (exit code {summary.get('exitCode')})")
    return messages


def format_acceptance_failures(logs: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str:
    """A message naming node, GPU index and measured vs expected figures for every failure in the pods' logs.

    `logs` maps each node name to its pod's log text (or to parse_acceptance_log's result). Empty when all passed.
    """
    items = logs.items() if isinstance(logs, Mapping) else logs
    messages: list[str] = []
    for node, log in items:
        parsed = log if isinstance(log, Mapping) else parse_acceptance_log(log)
        messages += acceptance_failures(parsed, node)
    if not messages:
        return ""
    return f"GPU acceptance failed ({len(messages)} problem{'s' if len(messages) != 1 else ''}):\n" + "\n".join(
        f"  - {message}" for message in messages
    )
