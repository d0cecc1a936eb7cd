"""The verifier's strict quantity parser: bounded work, ASCII only, Kubernetes' grammar."""

from __future__ import annotations

import pytest

from aks_gpu.verifier.quantity import parse_count
from aks_gpu.verifier.report import GpuNode


@pytest.mark.parametrize(
    ("text", "count"),
    [("8", 8), ("+2", 2), ("1k", 1000), ("1Ki", 1024), ("2e3", 2000), ("1500m", 2), (".5", 1), ("0", 0)],
)
def test_kubernetes_quantities_count(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize(
    "text",
    ["１", "٣", "1e999999", "1e9999999999", "9" * 70, "1E", "1.2.3", "", " 1", "1Zi", "0x10", "1e16", "inf", "NaN"],
)
def test_anything_else_is_refused_without_building_the_number(text):
    with pytest.raises(ValueError):
        parse_count(text)


def test_a_fullwidth_digit_is_no_gpu():
    node = GpuNode.from_api(
        {
            "metadata": {"name": "n"},
            "status": {"capacity": {"nvidia.com/gpu": "１"}, "allocatable": {"nvidia.com/gpu": "１"}},
        },
        "nvidia.com/gpu",
    )
    assert node.allocatable == 0 and any("not a quantity" in r for r in node.reasons)
