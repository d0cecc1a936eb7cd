"""A Markdown table of acceptance results, from pod logs: `python -m aks_gpu.verifier.summary FILE|-`.

One row per device, per node run: figure against floor for each check, the verdict and the reasons; then one
line per node with its node checks, problems and measurement time. A file may hold several pods' logs one
after another (each ends with its `AKS_GPU_ACCEPTANCE_SUMMARY` line); the older single-file script's logs work
too (their figures have no floors). Standard library only; exit code 0 when every run passed, 1 when not,
2 when the input holds no result.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from aks_gpu.verifier.acceptance import SUMMARY_MARKER, parse_acceptance_log

COLUMNS: tuple[tuple[str, str | None, str], ...] = (
    ("matmul", "tflops", "matmul TFLOP/s"),
    ("copy", "gbps", "copy GB/s"),
    ("h2d", None, "h2d GB/s"),
    ("d2h", None, "d2h GB/s"),
    ("p2p", None, "p2p GB/s"),
)
MARKS = {"pass": "", "fail": " **LOW**", "uncalibrated": " (uncalibrated)"}


def split_runs(text: str) -> list[str]:
    """The log cut after each summary line: one piece per pod run (a trailing piece without one is kept)."""
    pieces, current = [], []
    for line in text.splitlines():
        current.append(line)
        if SUMMARY_MARKER + " " in line:
            pieces.append("\n".join(current))
            current = []
    if any(SUMMARY_MARKER in line or line.strip() for line in current) and not pieces:
        pieces.append("\n".join(current))
    return pieces


def _cell(record: Mapping[str, Any], name: str, older: str | None) -> str:
    check = next((c for c in record.get("checks") or [] if c.get("name") == name), None)
    if check is None:
        value = record.get(name) if record.get(name) is not None else (record.get(older) if older else None)
        return "-" if value is None else f"{value:.1f}"
    value, floor = check.get("value"), check.get("floor")
    shown = "n/m" if value is None else f"{value:.1f}"
    return shown + ("" if floor is None else f" / {floor:.0f}") + MARKS.get(str(check.get("status")), "")


def rows(parsed: Mapping[str, Any], run: int) -> list[str]:
    """The table rows of one parsed pod log."""
    summary = parsed.get("summary") or {}
    lines = []
    for record in parsed.get("records") or []:
        cells = [str(run), str(record.get("node") or summary.get("node") or "?"), str(record.get("index"))]
        cells += [str(record.get("model") or "?"), *(_cell(record, name, older) for name, older, _ in COLUMNS)]
        cells += ["passed" if record.get("passed") else "**FAILED**", "; ".join(record.get("reasons") or [])]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return lines


def node_line(parsed: Mapping[str, Any], run: int) -> str:
    """One line about the node: verdict, node checks, problems, time."""
    summary = parsed.get("summary") or {}
    parts = [f"run {run}, node {summary.get('node') or '?'}: " + ("passed" if parsed.get("passed") else "FAILED")]
    for check in summary.get("checks") or []:
        parts.append(f"{check['name']} {check.get('value')} GB/s (floor {check.get('floor')}, {check.get('status')})")
    parts += list(summary.get("reasons") or [])
    if summary.get("error"):
        parts.append(f"could not run: {summary['error']}")
    if summary.get("seconds") is not None:
        parts.append(f"measured in {summary['seconds']:.1f} s")
    return "- " + "; ".join(parts)


def render(text: str) -> tuple[str, int]:
    """(the Markdown, the exit code) for a log text holding one or more pod runs."""
    runs = [parse_acceptance_log(piece) for piece in split_runs(text)]
    runs = [parsed for parsed in runs if parsed["records"] or parsed["summary"]]
    if not runs:
        return "No acceptance result in the input.\n", 2
    header = ["run", "node", "GPU", "model", *(title for _, _, title in COLUMNS), "verdict", "reasons"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for run, parsed in enumerate(runs, start=1):
        lines += rows(parsed, run)
    lines += ["", "Figures are value / floor; LOW is below the floor; uncalibrated: no measured reference.", ""]
    lines += [node_line(parsed, run) for run, parsed in enumerate(runs, start=1)]
    return "\n".join(lines) + "\n", 0 if all(parsed["passed"] for parsed in runs) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table for FILE (or standard input with `-`); the exit code as `render` says."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m aks_gpu.verifier.summary FILE|-", file=sys.stderr)
        return 2
    if args[0] == "-":
        text = sys.stdin.read()
    else:
        with open(args[0], encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    markdown, code = render(text)
    sys.stdout.write(markdown)
    return code


if __name__ == "__main__":
    sys.exit(main())
