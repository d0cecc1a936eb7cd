"""Judging, pure: each figure against its floor, each device against the node's median, the other signals.

A check's verdict ("status"):
  pass          the figure reached a calibrated floor (measured, stack, published or aznhc basis);
  fail          the figure is below its floor, or was not measured where a floor exists;
  uncalibrated  no measured reference exists: the figure reached only the datasheet share (basis "datasheet"),
                or no floor is known at all; it is reported, and only the outlier checks can fail it.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from . import UNITS
from .spec import CheckSpec, Expectation, finite

Status = Literal["pass", "fail", "uncalibrated"]
MAX_REL_ERROR = 0.05  # largest relative error of the product's corner against float64 that passes
OUTLIER_CHECKS = ("matmul", "copy", "h2d", "d2h")  # figures all devices of a node share; not p2p (per pair)


def judge_value(name: str, measured: Any, spec: CheckSpec) -> dict[str, Any]:
    """One check's verdict: {"name", "value", "unit", "floor", "reference", "basis", "source", "status"}."""
    value = finite(measured)
    status: Status
    if spec.floor is None:
        status = "uncalibrated"
    elif value is None or value < spec.floor:
        status = "fail"
    else:
        status = "pass" if spec.calibrated else "uncalibrated"
    return {
        "name": name,
        "value": value,
        "unit": UNITS.get(name, ""),
        "floor": spec.floor,
        "reference": spec.reference,
        "basis": spec.basis,
        "source": spec.source,
        "status": status,
    }


def check_reason(check: Mapping[str, Any]) -> str:
    """The failure text of a failed check: value, floor and its basis (the record's check holds the source)."""
    unit, floor, value = check["unit"], check["floor"], check["value"]
    shown = "not measured" if value is None else f"{value:.1f} {unit}"
    return f"{check['name']} {shown} < floor {floor:.1f} {unit} ({check['basis']})"


def model_matches(expected: str, actual: str | None) -> bool:
    """Whether torch's device name is the expected model; a MIG instance's name adds a suffix to the GPU's."""
    want, got = (re.sub(r"^(nvidia|tesla)\s+", "", " ".join(n.lower().split())) for n in (expected, actual or ""))
    return bool(got) and (got == want or (got.startswith(want) and got[len(want)] in " -_"))


def device_checks(measured: Mapping[str, Any], exp: Expectation) -> list[dict[str, Any]]:
    """The verdict of each figure the device has a floor or a value for (p2p only where it was measured)."""
    checks = []
    for name in ("matmul", "copy", "h2d", "d2h", "p2p"):
        if name == "p2p" and measured.get("p2p") is None:
            continue  # one GPU, MIG, or no NVLink: GPU-to-GPU copies do not apply
        checks.append(judge_value(name, measured.get(name), exp.check(name)))
    return checks


def device_reasons(measured: Mapping[str, Any], exp: Expectation, checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why the device fails (empty when it passes), before the node-median comparison."""
    if measured.get("error"):
        return [f"measurement failed: {measured['error']}"]
    reasons = [check_reason(check) for check in checks if check["status"] == "fail"]
    accuracy, error = finite(measured.get("accuracy")), finite(measured.get("maxRelError"))
    if accuracy is None or accuracy < exp.target_accuracy:
        reasons.append(f"training accuracy {accuracy} < target {exp.target_accuracy:g}")
    if error is None or error > MAX_REL_ERROR:
        reasons.append(f"matmul result wrong: relative error {error} > {MAX_REL_ERROR:g}")
    if exp.model and not model_matches(exp.model, measured.get("model")):
        reasons.append(f"model {measured.get('model')!r} is not the expected {exp.model!r}")
    return reasons


def below_median(values: Mapping[Any, float | None], margin: float) -> dict[Any, tuple[float, float]]:
    """{key: (value, median)} for every value below `margin` x the median of all values (needs two or more)."""
    known = {key: value for key, value in values.items() if value is not None}
    if len(known) < 2:
        return {}
    middle = statistics.median(known.values())
    return {key: (value, middle) for key, value in known.items() if value < margin * middle}


def outlier_reasons(records: Sequence[Mapping[str, Any]], margin: float) -> dict[int, list[str]]:
    """{device index: reasons} for devices clearly below the node's median on a shared figure."""
    found: dict[int, list[str]] = {}
    for name in OUTLIER_CHECKS:
        values = {int(record["index"]): finite(record.get(name)) for record in records}
        for index, (value, middle) in below_median(values, margin).items():
            unit = UNITS[name]
            found.setdefault(index, []).append(
                f"{name} {value:.1f} {unit} < {margin:g} x the node's median {middle:.1f} {unit}"
            )
    return found


def node_checks(multi: Mapping[str, Any], exp: Expectation) -> list[dict[str, Any]]:
    """The node's all-reduce verdict, when it ran."""
    if "allreduce" not in multi:
        return []
    return [judge_value("allreduce", multi.get("allreduce"), exp.check("allreduce"))]


def count_reasons(exp: Expectation, gpus: int | None, devices: int) -> list[str]:
    """A node whose GPU or device count is not the VM size's."""
    reasons = []
    if exp.gpus is not None and gpus is not None and gpus != exp.gpus:
        reasons.append(f"nvidia-smi counts {gpus} GPUs; the VM size has {exp.gpus}")
    if exp.devices is not None and devices != exp.devices:
        reasons.append(f"the pod sees {devices} devices; the pool gives each node {exp.devices}")
    return reasons
