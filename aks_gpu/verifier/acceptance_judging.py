"""Pure judging across the acceptance Job's nodes: a node clearly below its pool, and Node Problem Detector.

Input shapes are what `acceptance_result` gathers: nodes as {"node": str | None, "gpus": [record, ...]} with
records as `acceptance.parse_acceptance_log` gives them (figures in "matmul", "copy", "h2d", "d2h", or the older
"tflops"/"gbps"); conditions as (type, status, reason, message) tuples of one node.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aks_gpu.facts.acceptance_references import POOL_OUTLIER_MARGIN
from aks_gpu.facts.node_problems import NPD_GPU_CONDITIONS

FIGURES = {"matmul": ("tflops", "TFLOP/s"), "copy": ("gbps", "GB/s"), "h2d": (None, "GB/s"), "d2h": (None, "GB/s")}
Condition = tuple[str, str, str | None, str | None]


def _figure(record: Mapping[str, Any], name: str, older: str | None) -> float | None:
    value = record.get(name)
    if value is None and older:
        value = record.get(older)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def node_medians(nodes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """{figure: {node: median of its GPUs' figure}} for the nodes that measured it."""
    medians: dict[str, dict[str, float]] = {}
    for name, (older, _) in FIGURES.items():
        for node in nodes:
            values = [v for v in (_figure(r, name, older) for r in node.get("gpus") or []) if v is not None]
            if values and node.get("node"):
                medians.setdefault(name, {})[str(node["node"])] = statistics.median(values)
    return medians


def pool_outliers(nodes: Sequence[Mapping[str, Any]], margin: float = POOL_OUTLIER_MARGIN) -> dict[str, list[str]]:
    """{node: reasons} for nodes whose median figure is below `margin` x the pool's median of node medians.

    Needs two nodes or more (one node has no pool to compare with). The reason names both figures.
    """
    found: dict[str, list[str]] = {}
    for name, per_node in node_medians(nodes).items():
        if len(per_node) < 2:
            continue
        pool = statistics.median(per_node.values())
        unit = FIGURES[name][1]
        for node, value in per_node.items():
            if value < margin * pool:
                found.setdefault(node, []).append(
                    f"{name} median {value:.1f} {unit} < {margin:g} x the pool's median {pool:.1f} {unit}"
                )
    return found


def npd_problems(conditions: Iterable[Condition]) -> list[str]:
    """The Node Problem Detector GPU conditions that are "True", each named with its reason and message."""
    problems = []
    for kind, status, reason, message in conditions:
        if kind in NPD_GPU_CONDITIONS and status == "True":
            detail = ": ".join(part for part in (reason, message) if part)
            problems.append(f"Node Problem Detector reports {kind}" + (f" ({detail})" if detail else ""))
    return problems
