"""Which devices the pod was given, and the driver version: from the device plugin, nvidia-smi, NVML or torch."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence

_UUID = re.compile(r"\(UUID: ((?:GPU|MIG)-[^)\s]+)\)")


def run(command: Sequence[str], timeout: float = 60) -> str:
    """A command's standard output; raises OSError or subprocess.SubprocessError when it fails."""
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=True).stdout


def parse_nvidia_smi_list(text: str) -> tuple[list[str], dict[str, str]]:
    """(the CUDA-usable UUIDs in `nvidia-smi -L` output, {MIG UUID: its GPU's UUID}).

    A GPU's MIG instances take the place of the GPU.
    """
    tokens: list[str] = []
    parents: dict[str, str] = {}
    parent = None
    for found in filter(None, map(_UUID.search, text.splitlines())):
        uuid = found.group(1)
        if uuid.startswith("GPU-"):
            parent = uuid
            tokens.append(uuid)
            continue
        if parent:
            parents[uuid] = parent
        if tokens and tokens[-1] == parent:
            tokens[-1] = uuid  # the GPU's first MIG instance replaces the GPU
        else:
            tokens.append(uuid)
    return tokens, parents


def device_tokens(env: Mapping[str, str], smi_list: str, torch_count: Callable[[], int]) -> list[str]:
    """What CUDA_VISIBLE_DEVICES gets, one per device: NVIDIA_VISIBLE_DEVICES, `nvidia-smi -L`, torch's indices."""
    visible = env.get("NVIDIA_VISIBLE_DEVICES", "").strip()
    if visible and visible.lower() not in ("all", "void", "none"):
        return [token.strip() for token in visible.split(",") if token.strip()]
    tokens, _ = parse_nvidia_smi_list(smi_list)
    return tokens or [str(i) for i in range(torch_count())]


def torch_count() -> int:
    """torch's CUDA device count; 0 without torch (only when neither the plugin nor nvidia-smi names devices)."""
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count())


def driver_version(ask: Callable[[Sequence[str]], str] = run) -> str | None:
    """The NVIDIA driver version: from nvidia-smi, else /proc/driver/nvidia/version, else NVML; None if unknown."""
    try:
        return ask(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]).split()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as proc:
            found = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", proc.read())
        if found:
            return found.group(1)
    except OSError:
        pass
    try:
        import pynvml

        pynvml.nvmlInit()
        return str(pynvml.nvmlSystemGetDriverVersion())
    except Exception:  # noqa: BLE001 - NVML missing or failing: the version is unknown, which is not fatal
        return None
