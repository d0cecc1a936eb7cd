"""What one device does, in its own process (CUDA_VISIBLE_DEVICES names it): rates, a training run, host copies.

The torch module is passed in (imported only in the measuring process). The devices of a node are measured at
once: every process waits at a file barrier after its setup, so the timed work overlaps, and then takes a file
lock in turn for the host copies, whose floors (aznhc's) are per GPU measured alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .spec import Expectation

MAX_REL_ERROR = 0.05  # largest relative error of the product's corner against float64 that passes
SUSTAIN_S = 1.5  # seconds of back-to-back products before timing: the rate settles at the power cap by then
BATCH_MS = 20.0  # each timed sample is a batch of calls this long, so launch gaps do not count
HOST_COPY_BYTES = 1 << 30
BARRIER_TIMEOUT_S = 300.0


def median_ms(torch: Any, device: str, work: Callable[[], Any], samples: int) -> float:
    """Median milliseconds of `work` over `samples` runs after 3 warm-ups (CUDA events; host clock on a CPU)."""
    for _ in range(3):
        work()
    times = []
    for _ in range(samples):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            work()
            end.record()
            end.synchronize()
            times.append(float(start.elapsed_time(end)))
        else:
            begin = time.perf_counter()
            work()
            times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)


def ms_per_call(torch: Any, device: str, work: Callable[[], Any], samples: int) -> float:
    """Milliseconds per call of `work`, timed in batches of calls about BATCH_MS long."""
    repeat = max(1, min(200, math.ceil(BATCH_MS / max(median_ms(torch, device, work, 1), 1e-3))))

    def batch() -> None:
        for _ in range(repeat):
            work()

    return median_ms(torch, device, batch, samples) / repeat


def sustain(torch: Any, device: str, work: Callable[[], Any], seconds: float) -> None:
    """Run `work` back to back for about `seconds`, so that clocks and power reach their loaded state."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10):
            work()
        if device.startswith("cuda"):
            torch.cuda.synchronize()


def matrix_size(free_bytes: int, element_bytes: int, largest: int = 8192) -> int:
    """The largest power of two up to `largest` whose three n x n matrices fit in a quarter of `free_bytes`."""
    size = largest
    while size > 256 and 3 * size * size * element_bytes > free_bytes // 4:
        size //= 2
    return size


def measure_matmul(
    torch: Any, device: str, dtype: str, size: int, samples: int = 9, warm_s: float = 0.0
) -> tuple[float, float]:
    """(median dense TFLOP/s, relative error of a corner against float64) of size^3 products of random data."""
    torch.backends.cuda.matmul.allow_tf32 = False
    kind = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    generator = torch.Generator(device=device).manual_seed(1234)
    a, b = (torch.randn(size, size, device=device, generator=generator).to(kind) for _ in range(2))
    out = torch.empty(size, size, device=device, dtype=kind)
    sustain(torch, device, lambda: torch.matmul(a, b, out=out), warm_s)
    ms = ms_per_call(torch, device, lambda: torch.matmul(a, b, out=out), samples)
    corner = min(size, 128)
    reference = a[:corner].double() @ b[:, :corner].double()
    error = (out[:corner, :corner].double() - reference).norm() / reference.norm()
    return 2.0 * size**3 / (ms * 1e-3) / 1e12, float(error)


def measure_copy(torch: Any, device: str, nbytes: int, samples: int = 9) -> float:
    """Median device-to-device copy rate in GB/s, counting the bytes read plus the bytes written."""
    src = torch.rand(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    ms = ms_per_call(torch, device, lambda: dst.copy_(src), samples)
    if not torch.equal(dst, src):
        raise RuntimeError("the device-to-device copy changed the data")
    return 2.0 * int(src.numel()) * 4 / (ms * 1e-3) / 1e9


def measure_host_copies(torch: Any, device: str, nbytes: int, samples: int = 5) -> tuple[float, float]:
    """(host-to-device, device-to-host) GB/s of one pinned buffer of `nbytes` (each byte counted once)."""
    gpu = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=device)  # random bytes, made fast on the device
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=device.startswith("cuda"))
    host.copy_(gpu)
    h2d = ms_per_call(torch, device, lambda: gpu.copy_(host, non_blocking=True), samples)
    d2h = ms_per_call(torch, device, lambda: host.copy_(gpu, non_blocking=True), samples)
    if not torch.equal(gpu.cpu(), host):
        raise RuntimeError("the host copies changed the data")
    return nbytes / (h2d * 1e-3) / 1e9, nbytes / (d2h * 1e-3) / 1e9


def train_classifier(torch: Any, device: str, steps: int, seed: int = 0, log: Callable[[str], None] = print) -> float:
    """Train a small MLP on separable synthetic classes made on `device`; return the final test accuracy."""
    classes, features, batch = 10, 64, 256
    generator = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)
    centres = torch.randn(classes, features, device=device, generator=generator) * 0.6

    def sample(n: int) -> tuple[Any, Any]:
        labels = torch.randint(0, classes, (n,), device=device, generator=generator)
        return centres[labels] + torch.randn(n, features, device=device, generator=generator), labels

    test_x, test_y = sample(4096)
    layers = (torch.nn.Linear(features, 128), torch.nn.ReLU(), torch.nn.Linear(128, classes))
    model = torch.nn.Sequential(*layers).to(device)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    accuracy = 0.0
    for step in range(steps + 1):
        if step % 50 == 0 or step == steps:
            with torch.no_grad():
                accuracy = float((model(test_x).argmax(1) == test_y).float().mean().item())
            log(f"Accuracy at step {step}: {accuracy:.4f}")
        if step < steps:
            x, y = sample(batch)
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimiser.step()
    return accuracy


def wait_for_all(folder: Path, me: int, count: int, timeout: float = BARRIER_TIMEOUT_S) -> bool:
    """File barrier: mark `me` ready in `folder`, wait until `count` are; False when `timeout` passed first."""
    (folder / f"ready-{me}").touch()
    end = time.monotonic() + timeout
    while len(list(folder.glob("ready-*"))) < count:
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def turn(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `lock` (one device at a time)."""
    with open(lock, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def measure_device(torch: Any, device: str, exp: Expectation, me: int, count: int, folder: Path) -> dict[str, Any]:
    """Measure the one device this process sees, at once with the others (barrier), host copies in turn."""

    def say(line: str) -> None:
        print(f"[device {me}] {line}", flush=True)

    if device == "cuda":
        props, (free, _) = torch.cuda.get_device_properties(0), torch.cuda.mem_get_info(0)
        name, memory = str(props.name), round(props.total_memory / 2**30, 2)
        size, nbytes, warm = matrix_size(free, 4 if exp.dtype == "fp32" else 2), min(2 << 30, free // 8), SUSTAIN_S
        host_bytes = min(HOST_COPY_BYTES, free // 8)
    else:  # the tests' CPU run: small sizes, no barrier-long warm-up
        name, memory, size, nbytes, warm, host_bytes = "cpu", None, 128, 1 << 20, 0.0, 1 << 20
    synchronous = wait_for_all(folder, me, count)
    started = time.monotonic()
    tflops, error = measure_matmul(torch, device, exp.dtype, size, warm_s=warm)
    say(f"{exp.dtype} matmul {size}x{size}: {tflops:.1f} TFLOP/s, relative error {error:.1e}")
    gbps = measure_copy(torch, device, nbytes)
    say(f"device copy: {gbps:.1f} GB/s (read + written)")
    accuracy = train_classifier(torch, device, exp.steps, log=say)
    loaded_s = time.monotonic() - started
    with turn(folder / "host.lock"):
        h2d, d2h = measure_host_copies(torch, device, host_bytes)
    say(f"host copies: {h2d:.1f} GB/s to the device, {d2h:.1f} GB/s back (pinned)")
    return {
        "model": name,
        "memoryGiB": memory,
        "cudaVersion": torch.version.cuda,
        "matmul": round(tflops, 2),
        "copy": round(gbps, 1),
        "h2d": round(h2d, 2),
        "d2h": round(d2h, 2),
        "accuracy": round(accuracy, 4),
        "matrixSize": size,
        "maxRelError": error,
        "loadedSeconds": round(loaded_s, 2),
        "concurrent": synchronous,
    }


def child_main(out: str, me: int, count: int, folder: str, exp: Expectation, device: str) -> int:
    """Entry of a measuring process: write its result (or its error) as JSON to `out`; 0 when measured."""
    try:
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        result, code = measure_device(torch, device, exp, me, count, Path(folder)), 0
    except Exception as error:  # noqa: BLE001 - any failure is the device's result, reported to the parent
        (Path(folder) / f"ready-{me}").touch()  # do not keep the others waiting
        result, code = {"error": f"{type(error).__name__}: {error}"}, 1
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return code
