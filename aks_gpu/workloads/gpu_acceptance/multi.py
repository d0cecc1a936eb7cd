"""Multi-GPU figures of one node: GPU-to-GPU copy rates and a single-node NCCL all-reduce.

Each runs in processes that see every GPU of the pod (CUDA peer access and NCCL's P2P transport need the peer
visible). GPU-to-GPU: one process copies a buffer from every GPU to every other, one ordered pair at a time,
like nvbandwidth's device_to_device_memcpy_read_ce that Azure's node health checks judge. All-reduce: one
process per GPU (torch.distributed, NCCL; gloo in the tests' CPU run), in place, float32, bus bandwidth as
nccl-tests defines it: algorithm bandwidth (bytes / time) x 2 (n - 1) / n (NVIDIA/nccl-tests doc/PERFORMANCE.md).
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

P2P_BYTES = 1 << 30
P2P_SAMPLES = 3
ALLREDUCE_ITERATIONS = 5
INIT_TIMEOUT_S = 300


def bus_bandwidth(nbytes: int, seconds: float, ranks: int) -> float:
    """nccl-tests' all-reduce bus bandwidth in GB/s for `nbytes` reduced in `seconds` by `ranks` processes."""
    return nbytes / seconds / 1e9 * 2 * (ranks - 1) / ranks if ranks > 1 and seconds > 0 else 0.0


def _synchronize(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def pair_rate(torch: Any, source: str, target: str, nbytes: int, samples: int = P2P_SAMPLES) -> float:
    """GB/s of copies of `nbytes` from device `source` to device `target` (median of `samples`, after one)."""
    src = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=source)
    dst = torch.empty(nbytes, dtype=torch.uint8, device=target)
    times = []
    for _ in range(samples + 1):
        _synchronize(torch, source)
        begin = time.perf_counter()
        dst.copy_(src, non_blocking=True)
        _synchronize(torch, target)
        _synchronize(torch, source)
        times.append(time.perf_counter() - begin)
    if not torch.equal(dst.to(source), src):
        raise RuntimeError(f"the copy from {source} to {target} changed the data")
    return nbytes / sorted(times[1:])[len(times[1:]) // 2] / 1e9


def measure_pairs(torch: Any, device: str, count: int, nbytes: int = P2P_BYTES) -> dict[str, Any]:
    """{"pairs": {"i->j": GB/s}, "perDevice": [the lowest rate out of each device]} for `count` devices."""
    # ATen enables peer access itself for a copy between two devices that can reach each other.
    names = [f"cuda:{i}" if device == "cuda" else "cpu" for i in range(count)]
    pairs = {}
    for i in range(count):
        for j in range(count):
            if i != j:
                pairs[f"{i}->{j}"] = round(pair_rate(torch, names[i], names[j], nbytes), 1)
    lowest = [
        min((rate for key, rate in pairs.items() if key.startswith(f"{i}->")), default=None) for i in range(count)
    ]
    return {"pairs": pairs, "perDevice": lowest}


def all_reduce_rank(torch: Any, device: str, rank: int, ranks: int, port: int, nbytes: int) -> dict[str, Any]:
    """One rank of the all-reduce; every rank returns {"busbw", "algbw", "bytes", "seconds", "correct"}."""
    import torch.distributed as dist

    cuda = device == "cuda"
    where = torch.device(f"cuda:{rank}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(where)
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=ranks,
        timeout=datetime.timedelta(seconds=INIT_TIMEOUT_S),
    )
    try:
        check = torch.full((1024,), float(rank + 1), device=where)
        dist.all_reduce(check)
        correct = bool(torch.all(check == ranks * (ranks + 1) / 2).item())
        data = torch.ones(nbytes // 4, dtype=torch.float32, device=where)
        for _ in range(2):
            dist.all_reduce(data)
        _synchronize(torch, str(where))
        dist.barrier()
        begin = time.perf_counter()
        for _ in range(ALLREDUCE_ITERATIONS):
            dist.all_reduce(data)
        _synchronize(torch, str(where))
        seconds = (time.perf_counter() - begin) / ALLREDUCE_ITERATIONS
    finally:
        dist.destroy_process_group()
    size = (nbytes // 4) * 4
    return {
        "busbw": round(bus_bandwidth(size, seconds, ranks), 1),
        "algbw": round(size / seconds / 1e9, 1),
        "bytes": size,
        "seconds": round(seconds, 5),
        "correct": correct,
    }


def pairs_main(out: str, count: int, device: str) -> int:
    """Entry of the GPU-to-GPU process: write {"pairs", "perDevice"} or {"error"} to `out`."""
    try:
        import torch

        result, code = measure_pairs(torch, device, count, P2P_BYTES if device == "cuda" else 1 << 16), 0
    except Exception as error:  # noqa: BLE001 - reported to the parent as the node's result
        result, code = {"error": f"{type(error).__name__}: {error}"}, 1
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return code


def rank_main(out: str, rank: int, ranks: int, port: int, nbytes: int, device: str) -> int:
    """Entry of one all-reduce process: write its result or {"error"} to `out`."""
    try:
        import torch

        if device == "cuda":
            free = torch.cuda.mem_get_info(rank)[0]
            nbytes = min(nbytes, free // 3)
        result, code = all_reduce_rank(torch, device, rank, ranks, port, nbytes), 0
    except Exception as error:  # noqa: BLE001 - reported to the parent as the node's result
        result, code = {"error": f"{type(error).__name__}: {error}"}, 1
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return code
