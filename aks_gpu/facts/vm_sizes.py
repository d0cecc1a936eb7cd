"""Azure VM sizes with NVIDIA GPUs, as AKS GPU node pools see them.

This module is the single place the program reads VM size facts from: validation,
the expected `nvidia.com/gpu` count, the policy pack and the table in docs/gpu-sizes.md
all come from here. Sources: azure-compute-docs articles/virtual-machines/sizes/
gpu-accelerated/*-series.md and lifecycle/retirement/*; listed per family in
docs/gpu-sizes.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from typing import Any

from aks_gpu.facts.gpu_models import GpuModel, find_gpu_model

# A current general-purpose size named in messages as an example of a GPU size.
EXAMPLE_GPU_VM_SIZE = "Standard_NC4as_T4_v3"


# --- GPU VM sizes --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GpuVmSize:
    """One Azure VM size with NVIDIA GPUs, as an AKS GPU node pool sees it."""

    name: str
    family: str
    gpu_model: str
    gpus_per_node: int
    gen1: bool
    gen2: bool
    mig_capable: bool = False
    retired_on: date | None = None
    successor: str | None = None
    # Regions where the retirement comes later than `retired_on`.
    regional_retirement: Mapping[str, date] = dataclasses.field(default_factory=dict)
    note: str = ""

    def retirement_date(self, location: str | None = None) -> date | None:
        """The date this size stops being available in `location`, if any."""
        if location:
            regional = self.regional_retirement.get(_normalise_location(location))
            if regional:
                return regional
        return self.retired_on

    def is_retired(self, on: date, location: str | None = None) -> bool:
        """Whether the size is retired on `on` in `location`."""
        retired = self.retirement_date(location)
        return retired is not None and retired <= on

    @property
    def gpu(self) -> GpuModel | None:
        """The GPU model's datasheet figures and MIG profiles (`gpu_models`), or None if unknown."""
        return find_gpu_model(self.gpu_model)


def _normalise_location(location: str) -> str:
    return location.replace(" ", "").lower()


def _family(
    family: str,
    gpu_model: str,
    sizes: Mapping[str, int],
    *,
    gen1: bool,
    gen2: bool,
    **facts: Any,
) -> dict[str, GpuVmSize]:
    return {
        name: GpuVmSize(
            name=name,
            family=family,
            gpu_model=gpu_model,
            gpus_per_node=gpus,
            gen1=gen1,
            gen2=gen2,
            **facts,
        )
        for name, gpus in sizes.items()
    }


_NCV3_LATE_REGIONS = {
    **dict.fromkeys(
        ("usgovvirginia", "usgovarizona", "usgovtexas", "usdodcentral", "usdodeast"),
        date(2026, 12, 31),
    ),
    "jioindiawest": date(2027, 6, 30),
    "chinanorth3": date(2027, 6, 30),
}

GPU_VM_SIZES: dict[str, GpuVmSize] = {
    **_family(
        "NC",
        "NVIDIA K80 (half board)",
        {"Standard_NC6": 1, "Standard_NC12": 2, "Standard_NC24": 4, "Standard_NC24r": 4},
        gen1=True,
        gen2=False,
        retired_on=date(2023, 9, 6),
        successor="Standard_NC4as_T4_v3 (NCasT4_v3)",
    ),
    **_family(
        "NCv2",
        "NVIDIA P100",
        {
            "Standard_NC6s_v2": 1,
            "Standard_NC12s_v2": 2,
            "Standard_NC24s_v2": 4,
            "Standard_NC24rs_v2": 4,
        },
        gen1=True,
        gen2=True,
        retired_on=date(2023, 9, 6),
        successor="Standard_NC24ads_A100_v4 (NC A100 v4)",
    ),
    **_family(
        "NCv3",
        "NVIDIA V100 16 GB",
        {
            "Standard_NC6s_v3": 1,
            "Standard_NC12s_v3": 2,
            "Standard_NC24s_v3": 4,
            "Standard_NC24rs_v3": 4,
        },
        gen1=True,
        gen2=True,
        retired_on=date(2025, 9, 30),
        successor=("Standard_NC40ads_H100_v5 (NCads H100 v5); alternatives NCasT4_v3 and NVadsA10_v5"),
        regional_retirement=_NCV3_LATE_REGIONS,
    ),
    **_family(
        "NCasT4_v3",
        "NVIDIA T4 16 GB",
        {
            "Standard_NC4as_T4_v3": 1,
            "Standard_NC8as_T4_v3": 1,
            "Standard_NC16as_T4_v3": 1,
            "Standard_NC64as_T4_v3": 4,
        },
        gen1=True,
        gen2=True,
    ),
    **_family(
        "NC A100 v4",
        "NVIDIA A100 80 GB PCIe",
        {
            "Standard_NC24ads_A100_v4": 1,
            "Standard_NC48ads_A100_v4": 2,
            "Standard_NC96ads_A100_v4": 4,
        },
        gen1=False,
        gen2=True,
        mig_capable=True,
        note="the seed's TensorFlow 1 sample image may not run on this GPU",
    ),
    **_family(
        "NCads H100 v5",
        "NVIDIA H100 NVL 94 GB",
        {"Standard_NC40ads_H100_v5": 1, "Standard_NC80adis_H100_v5": 2},
        gen1=False,
        gen2=True,
        mig_capable=True,
        note="the seed's TensorFlow 1 sample image may not run on this GPU",
    ),
    **_family(
        "NVadsA10_v5",
        "NVIDIA A10 (GRID driver)",
        {"Standard_NV36ads_A10_v5": 1, "Standard_NV72ads_A10_v5": 2},
        gen1=True,
        gen2=True,
        note="GRID driver; check CUDA compatibility of the workload",
    ),
    # ND sizes: eight SXM GPUs per node with NVLink, where training clusters live.
    **_family(
        "NDasrA100_v4",
        "NVIDIA A100 40 GB SXM",
        {"Standard_ND96asr_v4": 8},
        gen1=False,
        gen2=True,
        mig_capable=True,
    ),
    **_family(
        "NDamsrA100_v4",
        "NVIDIA A100 80 GB SXM",
        {"Standard_ND96amsr_A100_v4": 8},
        gen1=False,
        gen2=True,
        mig_capable=True,
    ),
    **_family(
        "NDisrH100_v5",
        "NVIDIA H100 80 GB SXM",
        {"Standard_ND96isr_H100_v5": 8},
        gen1=False,
        gen2=True,
        mig_capable=True,
    ),
    **_family(
        "NDisrH200_v5",
        "NVIDIA H200 141 GB",
        {"Standard_ND96isr_H200_v5": 8},
        gen1=False,
        gen2=True,
        mig_capable=True,
    ),
    **_family(
        "NVv3",
        "NVIDIA M60",
        {"Standard_NV12s_v3": 1, "Standard_NV24s_v3": 2, "Standard_NV48s_v3": 4},
        gen1=True,
        gen2=True,
        retired_on=date(2026, 9, 30),
        successor="Standard_NV36ads_A10_v5 (NVadsA10_v5)",
    ),
}

# Sizes AKS GPU pools cannot use at all, or whose GPU count is not a whole number.
UNSUPPORTED_GPU_VM_SIZES: dict[str, str] = {
    **dict.fromkeys(
        ("Standard_NV4as_v4", "Standard_NV8as_v4", "Standard_NV16as_v4", "Standard_NV32as_v4"),
        "NVv4 has AMD GPUs, which AKS GPU node pools do not support",
    ),
    **dict.fromkeys(
        ("Standard_NV6ads_A10_v5", "Standard_NV12ads_A10_v5", "Standard_NV18ads_A10_v5"),
        "a fractional A10 (1/6, 1/3 or 1/2 GPU): the nvidia.com/gpu count it advertises is "
        "not documented, so the program cannot verify it",
    ),
    "Standard_ND96isr_MI300X_v5": "ND MI300X v5 has AMD Instinct MI300X GPUs, which AKS GPU node pools do not support",
    **dict.fromkeys(
        (
            "Standard_NG8ads_V620_v1",
            "Standard_NG16ads_V620_v1",
            "Standard_NG32ads_V620_v1",
            "Standard_NG32adms_V620_v1",
        ),
        "NGads V620 has AMD Radeon PRO V620 GPUs, which AKS GPU node pools do not support",
    ),
    **dict.fromkeys(
        (
            "Standard_NV4ads_V710_v5",
            "Standard_NV8ads_V710_v5",
            "Standard_NV12ads_V710_v5",
            "Standard_NV24ads_V710_v5",
            "Standard_NV28adms_V710_v5",
        ),
        "NVads V710 v5 has AMD Radeon PRO V710 GPUs, which AKS GPU node pools do not support",
    ),
    **dict.fromkeys(
        ("Standard_ND128isr_NDR_GB200_v6", "Standard_ND128isr_GB300_v6"),
        "ND GB200/GB300 v6 run on NVIDIA Grace (Arm64) CPUs; this program's pools, device plugin "
        "image and sample job are x86-64 only",
    ),
    **dict.fromkeys(
        ("Standard_NV6", "Standard_NV12", "Standard_NV24"),
        "NV (Tesla M60, first generation) was retired on 2023-09-06; its successor is Standard_NV36ads_A10_v5",
    ),
    **dict.fromkeys(
        ("Standard_NP10s", "Standard_NP20s", "Standard_NP40s"),
        "NP sizes carry Xilinx FPGAs, not GPUs",
    ),
}

# Name markers of whole families AKS GPU pools cannot use, for sizes the lists
# above do not name yet (a new size of a known AMD or Arm family).
_UNSUPPORTED_MARKERS: tuple[tuple[str, str], ...] = (
    ("_mi3", "AMD Instinct GPUs, which AKS GPU node pools do not support"),
    ("_v620", "AMD Radeon PRO GPUs, which AKS GPU node pools do not support"),
    ("_v710", "AMD Radeon PRO GPUs, which AKS GPU node pools do not support"),
    ("gb200", "NVIDIA Grace (Arm64) CPUs; this program's pools and images are x86-64 only"),
    ("gb300", "NVIDIA Grace (Arm64) CPUs; this program's pools and images are x86-64 only"),
)


def find_gpu_vm_size(name: str) -> GpuVmSize | None:
    """Look a size up case-insensitively, as Azure treats VM size names."""
    wanted = name.lower()
    for size in GPU_VM_SIZES.values():
        if size.name.lower() == wanted:
            return size
    return None


def unsupported_reason(name: str) -> str | None:
    """Why AKS GPU pools cannot use the size `name` (case-insensitive), or None."""
    wanted = name.lower()
    for size, reason in UNSUPPORTED_GPU_VM_SIZES.items():
        if size.lower() == wanted:
            return reason
    for marker, reason in _UNSUPPORTED_MARKERS:
        if marker in wanted:
            return f"{name} has {reason}"
    if wanted.startswith("standard_nv") and wanted.endswith("as_v4"):
        return f"{name} looks like NVv4, which has AMD GPUs that AKS GPU node pools do not support"
    if wanted.startswith("standard_np"):
        return f"{name} looks like an NP size, which carries Xilinx FPGAs, not GPUs"
    return None
