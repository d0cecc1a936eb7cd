"""Health signals an unprivileged GPU pod can read with `nvidia-smi`, and the problems they show.

The NVIDIA container runtime mounts `nvidia-smi` into every GPU pod. Field names are those of driver 535 and
later (`nvidia-smi --help-query-gpu`; all read on an H200 with driver 580.159.04); older drivers' names are
tried when a query is refused. XID errors live in the kernel log, which a pod cannot read: the verifier reads
the Node Problem Detector's XIDErrors node condition instead.

Pure parts (`parse_*`, `problems_*`) take text and return dicts and lists; `Sampler` polls during the load.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Read once before the load.
STATE_FIELDS = (
    "index",
    "uuid",
    "name",
    "ecc.mode.current",
    "ecc.errors.uncorrected.volatile.total",
    "retired_pages.pending",
    "remapped_rows.pending",
    "remapped_rows.failure",
    "pcie.link.gen.max",
    "pcie.link.width.max",
    "memory.used",
    "utilization.gpu",
)
# Read every SAMPLE_INTERVAL_S seconds during the load.
SAMPLE_FIELDS = (
    "index",
    "clocks_event_reasons.active",
    "pcie.link.gen.gpucurrent",
    "pcie.link.width.current",
    "utilization.gpu",
    "power.draw",
    "clocks.sm",
    "temperature.gpu",
)
OLDER_NAMES = {
    "clocks_event_reasons.active": "clocks_throttle_reasons.active",
    "pcie.link.gen.gpucurrent": "pcie.link.gen.current",
}
SAMPLE_INTERVAL_S = 1.0
# NVML clock event reasons (nvmlClocksEventReasons; Azure/azurehpc-health-checks customTests/
# azure_gpu_clock_throttling.nhc names the same bits). Idle (0x1), application clocks (0x2), software power cap
# (0x4), sync boost (0x10) and display clocks (0x100) are settings or normal under a power-capped load; these are
# faults or heat:
BAD_CLOCK_REASONS = {0x8: "hardware slowdown", 0x20: "software thermal slowdown", 0x40: "hardware thermal slowdown"}
BAD_CLOCK_REASONS[0x80] = "hardware power brake"
# Another process is taken to use the GPU when, before the test starts, it holds more memory than a driver and
# an idle container do (an idle T4 and H200 showed 1 MiB and under 1 GiB) or keeps the GPU busy.
BUSY_MEMORY_MIB = 1024.0
BUSY_UTILIZATION_PERCENT = 10.0
_MISSING = ("", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]", "unknown error")
_GPU_LINE = re.compile(r"^GPU (\d+):.*?(?:\(UUID: (GPU-[^)\s]+)\))?\s*$")
_LINK_LINE = re.compile(r"^\s*Link (\d+):\s*(.+?)\s*$")

Run = Callable[[Sequence[str]], str]


def value(text: str) -> float | str | None:
    """One CSV cell as a number (decimal or 0x hex), a string, or None when nvidia-smi has no value."""
    text = text.strip()
    if text.lower() in _MISSING:
        return None
    try:
        return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
    except ValueError:
        return text


def parse_query(text: str, fields: Sequence[str]) -> list[dict[str, float | str | None]]:
    """`nvidia-smi --query-gpu=FIELDS --format=csv,noheader,nounits` output as one dict per GPU."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) == len(fields):
            rows.append({name: value(cell) for name, cell in zip(fields, cells, strict=True)})
    return rows


def query(run: Run, fields: Sequence[str]) -> list[dict[str, float | str | None]]:
    """Query nvidia-smi; on a refused field, ask again with the older drivers' names. Raises OSError or
    subprocess.SubprocessError when nvidia-smi cannot answer."""

    def ask(names: Sequence[str]) -> str:
        return run(["nvidia-smi", f"--query-gpu={','.join(names)}", "--format=csv,noheader,nounits"])

    try:
        text = ask(fields)
    except subprocess.CalledProcessError:
        text = ask([OLDER_NAMES.get(name, name) for name in fields])
    return parse_query(text, fields)


def parse_nvlink_status(text: str) -> dict[int, dict[int, bool]]:
    """`nvidia-smi nvlink --status` as {GPU index: {link: active}}; empty when no GPU lists links."""
    gpus: dict[int, dict[int, bool]] = {}
    current: int | None = None
    for line in text.splitlines():
        gpu, link = _GPU_LINE.match(line.strip()), _LINK_LINE.match(line)
        if gpu:
            current = int(gpu.group(1))
            gpus[current] = {}
        elif link and current is not None:
            gpus[current][int(link.group(1))] = "inactive" not in link.group(2).lower()
        elif current is not None and "inactive" in line.lower():
            gpus[current][-1] = False  # "all links are inactive" and the like
    return gpus


def parse_compute_apps(text: str) -> dict[str, int]:
    """`nvidia-smi --query-compute-apps=gpu_uuid,pid --format=csv,noheader` as {GPU UUID: process count}."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        uuid = line.split(",")[0].strip()
        if uuid.startswith("GPU-"):
            counts[uuid] = counts.get(uuid, 0) + 1
    return counts


def _number(row: Mapping[str, Any], key: str) -> float | None:
    cell = row.get(key)
    return float(cell) if isinstance(cell, int | float) and not isinstance(cell, bool) else None


def problems_before(row: Mapping[str, Any], apps: int, mig: bool) -> list[str]:
    """What the GPU's state before the load shows wrong (ECC, memory repair, other processes)."""
    found = []
    if str(row.get("ecc.mode.current")).lower() == "disabled":
        found.append("ECC is disabled")
    errors = _number(row, "ecc.errors.uncorrected.volatile.total")
    if errors:
        found.append(f"{errors:.0f} volatile uncorrectable ECC errors")
    for key, what in (
        ("remapped_rows.pending", "a row remapping is pending (the GPU needs a reset)"),
        ("remapped_rows.failure", "row remapping failed (the memory cannot be repaired)"),
        ("retired_pages.pending", "a page retirement is pending (the GPU needs a reset)"),
    ):
        if str(row.get(key)).lower() == "yes":
            found.append(what)
    if mig:  # other pods use the GPU's other MIG instances: memory and utilization are theirs too
        return found
    memory, busy = _number(row, "memory.used"), _number(row, "utilization.gpu")
    if apps or (memory or 0) > BUSY_MEMORY_MIB or (busy or 0) > BUSY_UTILIZATION_PERCENT:
        shown = f"{apps} process(es), {memory or 0:.0f} MiB used, utilization {busy or 0:.0f} %"
        found.append(f"another process uses the GPU before the test ({shown})")
    return found


@dataclass
class LoadSeen:
    """What the samples during the load showed for one GPU: the OR of clock event reasons and the maxima."""

    samples: int = 0
    reasons: int = 0
    pcie_gen: float = 0.0
    pcie_width: float = 0.0
    power_w: float = 0.0
    temperature_c: float = 0.0
    sm_mhz: list[float] = field(default_factory=list)

    def add(self, row: Mapping[str, Any]) -> None:
        """Fold one sample row in."""
        self.samples += 1
        self.reasons |= int(_number(row, "clocks_event_reasons.active") or 0)
        self.pcie_gen = max(self.pcie_gen, _number(row, "pcie.link.gen.gpucurrent") or 0.0)
        self.pcie_width = max(self.pcie_width, _number(row, "pcie.link.width.current") or 0.0)
        self.power_w = max(self.power_w, _number(row, "power.draw") or 0.0)
        self.temperature_c = max(self.temperature_c, _number(row, "temperature.gpu") or 0.0)
        clock = _number(row, "clocks.sm")
        if clock is not None and (_number(row, "utilization.gpu") or 0) >= 50:
            self.sm_mhz.append(clock)


def problems_under_load(seen: LoadSeen, state: Mapping[str, Any]) -> list[str]:
    """Clock event reasons other than idle or the power cap, and a PCIe link below its maximum, under load."""
    if not seen.samples:
        return []
    found = []
    bad = [f"{name} (0x{bit:x})" for bit, name in BAD_CLOCK_REASONS.items() if seen.reasons & bit]
    if bad:
        found.append("clock event reasons during the load: " + ", ".join(bad))
    for what, current, key in (
        ("generation", seen.pcie_gen, "pcie.link.gen.max"),
        ("width", seen.pcie_width, "pcie.link.width.max"),
    ):
        top = _number(state, key)
        if top and current and current < top:
            found.append(f"PCIe link {what} {current:g} under load, below its maximum {top:g}")
    return found


def problems_nvlink(links: Mapping[int, Mapping[int, bool]], index: int, required: bool) -> list[str]:
    """Inactive NVLink links of GPU `index`; on NVLink sizes (`required`) also a GPU that lists none."""
    mine = links.get(index, {})
    down = sorted(link for link, up in mine.items() if not up)
    if down:
        shown = "all" if down == [-1] else ", ".join(str(link) for link in down if link >= 0)
        return [f"NVLink links inactive: {shown}"]
    if required and not mine:
        return ["no NVLink links reported on an NVLink size"]
    return []


class Sampler:
    """Polls nvidia-smi in a thread while the load runs; `seen` maps GPU index to LoadSeen."""

    def __init__(self, run: Run, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.run, self.interval = run, interval
        self.seen: dict[int, LoadSeen] = {}
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for row in query(self.run, SAMPLE_FIELDS):
                    index = _number(row, "index")
                    if index is not None:
                        self.seen.setdefault(int(index), LoadSeen()).add(row)
            except (OSError, subprocess.SubprocessError) as error:
                self.error = f"{type(error).__name__}: {error}"
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def gpu_of(token: str, states: Iterable[Mapping[str, Any]], parents: Mapping[str, str]) -> int | None:
    """The nvidia-smi index of the GPU behind a device token (GPU UUID, MIG UUID via `parents`, or an index)."""
    uuid = parents.get(token, token)
    for row in states:
        index = _number(row, "index")
        if index is not None and (row.get("uuid") == uuid or token == f"{index:.0f}"):
            return int(index)
    return None
