"""Facts about the NVIDIA GPU models that Azure GPU VM sizes carry: memory, datasheet rates, MIG slices.

Standard library only; nothing from the rest of the project. The figures are the vendor's datasheet figures,
per GPU as CUDA sees it (a K80 or M60 board holds two GPUs; Azure's NC and NVv3 sizes give whole GPUs of it):
`dense_tflops` is the DENSE rate (no 2:4 sparsity) in `tensor_dtype`, the best dense tensor-core precision
(bf16 from Ampere on, fp16 on Volta and Turing, plain fp32 where there are no tensor cores). A real GPU reaches
less than these figures, above all a power-capped one; the acceptance test compares against a fraction of them.

Sources:
- NVIDIA datasheets and product pages, named in each model's `sources`.
- MIG profiles (slices per GPU, fraction of SMs and of memory): NVIDIA Multi-Instance GPU User Guide,
  https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html (1g = 1/7 of the SMs and
  1/8 of the memory, 2g 2/7 and 2/8, 3g 3/7 and 4/8, 4g 4/7 and 4/8, 7g all).
- Slice names per GPU: NVIDIA GPU Operator's default MIG configuration, `assets/state-mig-manager/
  0400_configmap.yaml` in https://github.com/NVIDIA/gpu-operator (all-1g.10gb ... all-7g.141gb).
- AKS instance profiles and how many instances each makes (AKS partitions every GPU the same way: MIG1g 7,
  MIG2g 3, MIG3g 2, MIG4g 1, MIG7g 1): https://learn.microsoft.com/en-us/azure/aks/gpu-multi-instance
- Compute capabilities: https://developer.nvidia.com/cuda-gpus
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

__all__ = ["GPU_MODELS", "MIG_LAYOUT", "GpuModel", "MigProfile", "find_gpu_model"]

# AKS profile name -> (GPU slices per instance, instances AKS makes per GPU, eighths of memory per instance).
# The one home of the AKS profile names (azure.MIG_PROFILES lists them in this order).
MIG_LAYOUT: Mapping[str, tuple[int, int, int]] = {
    "MIG1g": (1, 7, 1),
    "MIG2g": (2, 3, 2),
    "MIG3g": (3, 2, 4),
    "MIG4g": (4, 1, 4),
    "MIG7g": (7, 1, 8),
}

_MIG_SOURCES = (
    "https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html",
    "https://github.com/NVIDIA/gpu-operator/blob/main/assets/state-mig-manager/0400_configmap.yaml",
    "https://learn.microsoft.com/en-us/azure/aks/gpu-multi-instance",
)


@dataclasses.dataclass(frozen=True)
class MigProfile:
    """One AKS MIG instance profile on one GPU model.

    aks_profile: the AKS name ("MIG1g" ... "MIG7g"); slice: NVIDIA's profile name, the suffix of the
    `nvidia.com/mig-<slice>` resource (e.g. "1g.10gb"); instances_per_gpu: how many instances AKS makes on each
    GPU; compute_fraction and memory_fraction: the share of the whole GPU's SMs and memory one instance has.
    """

    aks_profile: str
    slice: str
    instances_per_gpu: int
    compute_fraction: Fraction
    memory_fraction: Fraction

    @property
    def resource(self) -> str:
        """The extended resource name the device plugin advertises with the mixed strategy."""
        return f"nvidia.com/mig-{self.slice}"


@dataclasses.dataclass(frozen=True)
class GpuModel:
    """One NVIDIA GPU model.

    name: as `nvidia-smi` and torch report it (e.g. "NVIDIA H200", "Tesla T4"); aliases: other names it goes by
    (the VM size catalog's, shorter forms), matched by find_gpu_model; memory_gib: the datasheet's memory size
    (the device reports a little less: an H200 showed 139.8 GiB to torch); compute_capability: (major, minor);
    tensor_dtype: "bf16", "fp16" or "fp32" (see the module docstring); dense_tflops: the datasheet's dense rate
    in that precision, TFLOP/s; memory_bandwidth_gbps: the datasheet's memory bandwidth, GB/s; mig_profiles: AKS
    profile name -> MigProfile, empty for GPUs without MIG; sources: where the figures come from.
    """

    name: str
    memory_gib: float
    compute_capability: tuple[int, int]
    tensor_dtype: str
    dense_tflops: float
    memory_bandwidth_gbps: float
    mig_profiles: Mapping[str, MigProfile] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    sources: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def mig_capable(self) -> bool:
        """Whether AKS can partition this GPU with a gpuInstanceProfile."""
        return bool(self.mig_profiles)

    def per_device(self, mig_profile: str | None = None) -> tuple[float, float]:
        """(dense TFLOP/s, GB/s) expected of one device: the whole GPU, or one instance of `mig_profile`.

        A MIG instance gets its share of the SMs for compute and its share of the memory slices (with their
        memory controllers) for bandwidth. Raises KeyError for a profile this GPU does not offer.
        """
        if not mig_profile:
            return self.dense_tflops, self.memory_bandwidth_gbps
        profile = self.mig_profiles[mig_profile]
        tflops = float(self.dense_tflops * profile.compute_fraction)
        return tflops, float(self.memory_bandwidth_gbps * profile.memory_fraction)


def _mig(slices: str) -> Mapping[str, MigProfile]:
    """The AKS profiles of a GPU whose 1g/2g/3g/4g/7g slice names are given in that order."""
    names = slices.split()
    if len(names) != len(MIG_LAYOUT):
        raise ValueError(f"expected {len(MIG_LAYOUT)} slice names, got {slices!r}")
    profiles = {}
    for (aks, (gpcs, count, eighths)), name in zip(MIG_LAYOUT.items(), names, strict=True):
        if not name.startswith(f"{gpcs}g."):
            raise ValueError(f"{name} is not a {gpcs}g slice")
        profiles[aks] = MigProfile(aks, name, count, Fraction(gpcs, 7), Fraction(eighths, 8))
    return MappingProxyType(profiles)


_A100_PDF = "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"
_H100_PAGE = "https://www.nvidia.com/en-us/data-center/h100/ (H100 SXM and H100 NVL columns)"

_MODELS = (
    GpuModel(
        "Tesla T4",
        16,
        (7, 5),
        "fp16",
        65.0,
        320.0,
        sources=("NVIDIA T4 Tensor Core GPU datasheet: 65 TFLOPS mixed precision FP16/FP32, 320 GB/s, 16 GB, 70 W",),
        aliases=("NVIDIA T4", "NVIDIA T4 16 GB", "T4"),
    ),
    GpuModel(
        "NVIDIA A10",
        24,
        (8, 6),
        "bf16",
        125.0,
        600.0,
        sources=("NVIDIA A10 Tensor Core GPU datasheet: BF16 125 TFLOPS (250 with sparsity), 600 GB/s, 24 GB",),
        aliases=("NVIDIA A10 (GRID driver)", "A10"),
    ),
    GpuModel(
        "NVIDIA A100 80GB PCIe",
        80,
        (8, 0),
        "bf16",
        312.0,
        1935.0,
        _mig("1g.10gb 2g.20gb 3g.40gb 4g.40gb 7g.80gb"),
        (_A100_PDF + " (A100 80GB PCIe: BF16 312 TFLOPS dense, 1,935 GB/s)", *_MIG_SOURCES),
        ("NVIDIA A100 80 GB PCIe", "A100 80GB PCIe"),
    ),
    GpuModel(
        "NVIDIA A100-SXM4-40GB",
        40,
        (8, 0),
        "bf16",
        312.0,
        1555.0,
        _mig("1g.5gb 2g.10gb 3g.20gb 4g.20gb 7g.40gb"),
        (_A100_PDF + " (A100 40GB SXM: BF16 312 TFLOPS dense, 1,555 GB/s)", *_MIG_SOURCES),
        ("NVIDIA A100 40 GB SXM", "NVIDIA A100 40GB SXM", "A100 SXM4 40GB"),
    ),
    GpuModel(
        "NVIDIA A100-SXM4-80GB",
        80,
        (8, 0),
        "bf16",
        312.0,
        2039.0,
        _mig("1g.10gb 2g.20gb 3g.40gb 4g.40gb 7g.80gb"),
        (_A100_PDF + " (A100 80GB SXM: BF16 312 TFLOPS dense, 2,039 GB/s)", *_MIG_SOURCES),
        ("NVIDIA A100 80 GB SXM", "NVIDIA A100 80GB SXM", "A100 SXM4 80GB"),
    ),
    GpuModel(
        "NVIDIA H100 NVL",
        94,
        (9, 0),
        "bf16",
        835.5,
        3900.0,
        _mig("1g.12gb 2g.24gb 3g.47gb 4g.47gb 7g.94gb"),
        (_H100_PAGE + ": H100 NVL BF16 1,671 TFLOPS with sparsity (835.5 dense), 3.9 TB/s, 94 GB", *_MIG_SOURCES),
        ("NVIDIA H100 NVL 94 GB", "NVIDIA H100 NVL 94GB", "H100 NVL"),
    ),
    GpuModel(
        "NVIDIA H100 80GB HBM3",
        80,
        (9, 0),
        "bf16",
        989.5,
        3350.0,
        _mig("1g.10gb 2g.20gb 3g.40gb 4g.40gb 7g.80gb"),
        (_H100_PAGE + ": H100 SXM BF16 1,979 TFLOPS with sparsity (989.5 dense), 3.35 TB/s, 80 GB", *_MIG_SOURCES),
        ("NVIDIA H100 80 GB SXM", "NVIDIA H100 SXM", "NVIDIA H100 SXM5 80GB", "H100 SXM"),
    ),
    GpuModel(
        "NVIDIA H200",
        141,
        (9, 0),
        "bf16",
        989.5,
        4800.0,
        _mig("1g.18gb 2g.35gb 3g.71gb 4g.71gb 7g.141gb"),
        (
            "https://www.nvidia.com/en-us/data-center/h200/: H200 SXM BF16 1,979 TFLOPS with sparsity (989.5 dense),"
            " 4.8 TB/s, 141 GB",
            *_MIG_SOURCES,
        ),
        ("NVIDIA H200 141 GB", "NVIDIA H200 141GB SXM", "NVIDIA H200 SXM", "H200 SXM"),
    ),
    # Retired in Azure; kept so that the messages about sizes that carried them can name their figures.
    GpuModel(
        "Tesla V100-PCIE-16GB",
        16,
        (7, 0),
        "fp16",
        112.0,
        900.0,
        sources=("NVIDIA V100 datasheet: V100 PCIe tensor performance 112 TFLOPS, 900 GB/s, 16 GB",),
        aliases=("NVIDIA V100 16 GB", "NVIDIA V100", "V100"),
    ),
    GpuModel(
        "Tesla P100-PCIE-16GB",
        16,
        (6, 0),
        "fp32",
        9.3,
        732.0,
        sources=("NVIDIA Tesla P100 PCIe datasheet: 9.3 TFLOPS single precision, 732 GB/s (16 GB)",),
        aliases=("NVIDIA P100", "P100"),
    ),
    GpuModel(
        "Tesla K80",
        12,
        (3, 7),
        "fp32",
        4.37,
        240.0,
        sources=("NVIDIA Tesla K80 datasheet, per board of two GPUs: 8.73 TFLOPS FP32 (boost), 480 GB/s, 24 GB",),
        aliases=("NVIDIA K80 (half board)", "NVIDIA K80", "K80"),
    ),
    GpuModel(
        "Tesla M60",
        8,
        (5, 2),
        "fp32",
        4.8,
        160.0,
        sources=(
            "NVIDIA Tesla M60 datasheet, per board of two GPUs: 16 GB GDDR5 (8 GB per GPU); about 9.6 TFLOPS FP32"
            " and 320 GB/s per board as commonly listed (e.g. techpowerup.com); the datasheet gives no rate",
        ),
        aliases=("NVIDIA M60", "M60"),
    ),
)

GPU_MODELS: Mapping[str, GpuModel] = MappingProxyType({model.name: model for model in _MODELS})
"""Every known model by its reported name."""


def _key(name: str) -> str:
    """A name reduced to what identifies the model: no vendor word, MIG or vGPU suffix, case or punctuation."""
    text = re.sub(r"\(.*?\)", " ", name.strip())
    text = re.sub(r"\s+MIG\s+\S+$", "", text, flags=re.IGNORECASE)  # "NVIDIA H200 MIG 1g.18gb"
    text = re.sub(r"-\d+[A-Z]$", "", text)  # a vGPU profile suffix: "NVIDIA A10-24Q"
    text = re.sub(r"[-_/]+", " ", text.lower())
    text = re.sub(r"(\d+)\s+gb\b", r"\1gb", text)
    return " ".join(word for word in text.split() if word not in ("nvidia", "tesla"))


_BY_KEY: Mapping[str, GpuModel] = MappingProxyType(
    {_key(alias): model for model in _MODELS for alias in (model.name, *model.aliases)}
)


def find_gpu_model(name: str | None) -> GpuModel | None:
    """The model with this name as torch, nvidia-smi or the VM size catalog writes it; None if unknown.

    Case, "NVIDIA"/"Tesla", hyphens versus spaces, "80 GB" versus "80GB", a parenthesised note, a MIG suffix
    ("NVIDIA A100-SXM4-80GB MIG 1g.10gb") and a vGPU profile suffix ("NVIDIA A10-24Q") do not matter. A different
    product stays unknown: "NVIDIA H200 NVL" is not the H200 SXM.
    """
    if not isinstance(name, str) or not name.strip():
        return None
    return _BY_KEY.get(_key(name))
