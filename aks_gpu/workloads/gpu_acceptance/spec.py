"""The expectation the stack gives each acceptance pod (JSON in AKS_GPU_ACCEPTANCE_EXPECTATION), parsed and checked.

Shape (every key but "checks" optional):
  {"model": "NVIDIA H200", "dtype": "bf16", "gpus": 8, "devices": 8, "nvlink": true, "outlierMargin": 0.92,
   "targetAccuracy": 0.95, "steps": 200, "allreduceBytes": 17179869184,
   "checks": {"matmul": {"floor": 607.5, "reference": 675.0, "basis": "measured", "source": "..."}, ...}}
Check names: DEVICE_CHECKS and NODE_CHECKS. A check's `floor` (in UNITS) is what the figure must reach; null
means no floor is known and the figure is only reported ("uncalibrated"). `basis` says where the floor comes
from: "measured" (this script's method on healthy hardware), "stack" (the stack's own reference), "published"
(a published sustained measurement), "aznhc" (Azure's node health check floor), "datasheet" (a share of the
datasheet: uncalibrated, catches only gross failures), "none".

The older form {"tflops", "gbps", "dtype", "model", "minFraction"} (datasheet rates and a share) is still read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from . import DEVICE_CHECKS, EXPECTATION_ENV, NODE_CHECKS

Dtype = Literal["bf16", "fp16", "fp32"]
DTYPES: tuple[Dtype, ...] = ("bf16", "fp16", "fp32")
BASES = ("measured", "stack", "published", "aznhc", "datasheet", "none")
DEFAULT_OUTLIER_MARGIN = 0.92  # why: aks_gpu/facts/acceptance_references.py (OUTLIER_MARGIN)
DEFAULT_TARGET_ACCURACY = 0.95
DEFAULT_STEPS = 200
DEFAULT_MIN_FRACTION = 0.5  # the older form's share of the datasheet
DEFAULT_ALLREDUCE_BYTES = 1 << 30


class ExpectationError(ValueError):
    """The expectation JSON is missing or invalid; the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class CheckSpec:
    """What one figure must reach: `floor` (None: only reported), where it comes from, and the reference."""

    floor: float | None
    basis: str = "none"
    source: str = ""
    reference: float | None = None

    @property
    def calibrated(self) -> bool:
        """Whether the floor rests on a measured or published healthy figure, not on the datasheet."""
        return self.floor is not None and self.basis not in ("datasheet", "none")


@dataclass(frozen=True)
class Expectation:
    """What each device and the node must show."""

    checks: Mapping[str, CheckSpec] = field(default_factory=dict)
    dtype: Dtype = "bf16"
    model: str | None = None
    gpus: int | None = None
    devices: int | None = None
    nvlink: bool = False
    outlier_margin: float = DEFAULT_OUTLIER_MARGIN
    target_accuracy: float = DEFAULT_TARGET_ACCURACY
    steps: int = DEFAULT_STEPS
    allreduce_bytes: int = DEFAULT_ALLREDUCE_BYTES

    def check(self, name: str) -> CheckSpec:
        """The spec of check `name`; an unnamed check has no floor."""
        return self.checks.get(name) or CheckSpec(None)


def finite(value: Any) -> float | None:
    """`value` as a float when it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value) if math.isfinite(value) else None
    except OverflowError:
        return None


def _number(data: Mapping[str, Any], key: str, default: float | None, high: float) -> float:
    value = finite(data.get(key, default))
    if value is None or not 0 < value <= high:
        raise ExpectationError(f"{key} must be a number in (0, {high:g}], got {data.get(key)!r}")
    return value


def _integer(data: Mapping[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    value = data.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ExpectationError(f"{key} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _check(name: str, data: Any) -> CheckSpec:
    if not isinstance(data, dict):
        raise ExpectationError(f"checks.{name} must be a JSON object, got {data!r}")
    floor, reference = data.get("floor"), data.get("reference")
    if floor is not None and (finite(floor) is None or floor <= 0):
        raise ExpectationError(f"checks.{name}.floor must be a positive number or null, got {floor!r}")
    if reference is not None and (finite(reference) is None or reference <= 0):
        raise ExpectationError(f"checks.{name}.reference must be a positive number or null, got {reference!r}")
    basis, source = data.get("basis", "none"), data.get("source", "")
    if basis not in BASES:
        raise ExpectationError(f"checks.{name}.basis must be one of {', '.join(BASES)}, got {basis!r}")
    if not isinstance(source, str):
        raise ExpectationError(f"checks.{name}.source must be a string, got {source!r}")
    return CheckSpec(finite(floor), basis, source, finite(reference))


def _checks(data: Mapping[str, Any]) -> dict[str, CheckSpec]:
    if "checks" not in data:  # the older form: datasheet rates and one share
        fraction = _number(data, "minFraction", DEFAULT_MIN_FRACTION, 10)
        rates = {"matmul": _number(data, "tflops", None, 1e6), "copy": _number(data, "gbps", None, 1e6)}
        source = f"{fraction:g} x datasheet"
        return {name: CheckSpec(fraction * rate, "datasheet", source, rate) for name, rate in rates.items()}
    checks = data["checks"]
    if not isinstance(checks, dict):
        raise ExpectationError(f"checks must be a JSON object, got {checks!r}")
    known = (*DEVICE_CHECKS, *NODE_CHECKS)
    unknown = sorted(set(checks) - set(known))
    if unknown:
        raise ExpectationError(f"checks has unknown names {', '.join(unknown)}; allowed: {', '.join(known)}")
    return {name: _check(name, value) for name, value in checks.items()}


def parse_expectation(text: str | None) -> Expectation:
    """Parse and check the expectation JSON; raise ExpectationError naming what is wrong."""
    if not text or not text.strip():
        raise ExpectationError(f"{EXPECTATION_ENV} is not set")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ExpectationError(f"{EXPECTATION_ENV} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ExpectationError(f"{EXPECTATION_ENV} must be a JSON object")
    dtype, model, nvlink = data.get("dtype", "bf16"), data.get("model"), data.get("nvlink", False)
    if dtype not in DTYPES:
        raise ExpectationError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ExpectationError(f"model must be a non-empty string, got {model!r}")
    if not isinstance(nvlink, bool):
        raise ExpectationError(f"nvlink must be true or false, got {nvlink!r}")
    return Expectation(
        checks=_checks(data),
        dtype=cast(Dtype, dtype),
        model=model.strip() if model else None,
        gpus=_integer(data, "gpus", None, 1, 64),
        devices=_integer(data, "devices", None, 1, 512),
        nvlink=nvlink,
        outlier_margin=_number(data, "outlierMargin", DEFAULT_OUTLIER_MARGIN, 1),
        target_accuracy=_number(data, "targetAccuracy", DEFAULT_TARGET_ACCURACY, 1),
        steps=_integer(data, "steps", DEFAULT_STEPS, 10, 100_000) or DEFAULT_STEPS,
        allreduce_bytes=_integer(data, "allreduceBytes", DEFAULT_ALLREDUCE_BYTES, 1 << 20, 1 << 36)
        or DEFAULT_ALLREDUCE_BYTES,
    )
