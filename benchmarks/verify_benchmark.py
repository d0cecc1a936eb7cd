"""Benchmark of the GPU check (aks_gpu.verifier) against the local test API server.

    python benchmarks/verify_benchmark.py      # from the repository root

For 10 and 5,000 GPU nodes it measures
- how long `wait_for_gpus` takes to return after the server publishes the last
  GPU (the node's allocatable goes from 0 to 1) while the check is watching;
- how long the check takes when every GPU is already there (list only);
- how many API requests each run makes.
It prints a Markdown table and writes it to benchmarks/RESULTS.md. It is not a
test: the figures depend on the machine.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script, the repository root is not on the path

import kubernetes  # noqa: E402

from aks_gpu.verifier import api_client_from_kubeconfig, wait_for_gpus  # noqa: E402
from tests.support.kube_api_server import KubeApiServer, gpu_node  # noqa: E402

SIZES = (10, 5000)
REPETITIONS = 20
TIMEOUT = 120.0
RESULTS = REPO / "benchmarks" / "RESULTS.md"
COMMAND = "python benchmarks/verify_benchmark.py"


@dataclass(frozen=True)
class Sample:
    seconds: float
    lists: int
    watches: int

    @property
    def requests(self) -> str:
        return f"{self.lists + self.watches} ({self.lists} list, {self.watches} watch)"


@dataclass(frozen=True)
class Row:
    nodes: int
    scenario: str
    samples: list[Sample]

    def cells(self) -> list[str]:
        millis = sorted(sample.seconds * 1000 for sample in self.samples)
        # Identical in every run unless a request failed; then all variants show.
        requests = sorted({sample.requests for sample in self.samples})
        return [
            f"{self.nodes:,}",
            self.scenario,
            f"{statistics.median(millis):.1f}",
            f"{_nearest_rank(millis, 0.95):.1f}",
            " / ".join(requests),
        ]


def _nearest_rank(sorted_values: list[float], quantile: float) -> float:
    return sorted_values[math.ceil(quantile * len(sorted_values)) - 1]


def _fleet(nodes: int, last_allocatable: int) -> list[dict]:
    return [gpu_node(f"aks-gpu-{i:05d}") for i in range(nodes - 1)] + [
        gpu_node(f"aks-gpu-{nodes - 1:05d}", allocatable=last_allocatable)
    ]


def last_gpu_appears(nodes: int) -> Sample:
    """Latency from the server publishing the last GPU to the check returning."""
    with KubeApiServer() as server, ThreadPoolExecutor(max_workers=1) as pool:
        server.put_nodes(_fleet(nodes, last_allocatable=0))
        with api_client_from_kubeconfig(server.kubeconfig()) as api:
            returned = pool.submit(_returned_at, api, nodes)
            server.wait_for_watch()
            published = time.perf_counter()
            server.put_node(gpu_node(f"aks-gpu-{nodes - 1:05d}"))
            seconds = returned.result(TIMEOUT) - published
        return _sample(seconds, server)


def gpus_already_there(nodes: int) -> Sample:
    """Duration of the whole check when it has nothing to wait for."""
    with KubeApiServer() as server:
        server.put_nodes(_fleet(nodes, last_allocatable=1))
        with api_client_from_kubeconfig(server.kubeconfig()) as api:
            started = time.perf_counter()
            seconds = _returned_at(api, nodes) - started
        return _sample(seconds, server)


def _sample(seconds: float, server: KubeApiServer) -> Sample:
    return Sample(seconds, lists=server.count(watch=False), watches=server.count(watch=True))


def _returned_at(api: kubernetes.client.ApiClient, expected: int) -> float:
    report = wait_for_gpus(api, expected, TIMEOUT)
    assert report.verified == expected, report.to_dict()
    return time.perf_counter()


SCENARIOS: dict[str, Callable[[int], Sample]] = {
    "last GPU appears while watching": last_gpu_appears,
    "GPUs already there (list only)": gpus_already_there,
}


def markdown(rows: list[Row]) -> str:
    header = ["GPU nodes", "scenario", "median ms", "p95 ms", "API requests per run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = models[0] if models else cpu
    return (
        f"{platform.platform()}, {cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"kubernetes client {kubernetes.__version__}"
    )


def report(rows: list[Row]) -> str:
    return f"""# GPU check benchmark

- Command: `{COMMAND}` (from the repository root)
- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
- Machine: {machine()}
- Repetitions: {REPETITIONS} per row; p95 is the nearest-rank 95th percentile.

{markdown(rows)}

- *last GPU appears while watching*: every node but one already has its GPU;
  the check has listed and its watch is open when the server marks the last
  node allocatable. The time runs from that publication to `wait_for_gpus`
  returning. Requests: the list pages (500 nodes each) and one watch.
- *GPUs already there*: the whole check, list pages only.
- Every node is Ready and schedulable, so each one's GPUs count; the check
  judges each node's conditions, taints and cordon on every list and event.
- The test API server (tests/support/kube_api_server.py) runs in the same process over
  HTTP on 127.0.0.1, so both share the interpreter; a real API server adds its
  network round trip and its own serialisation time.
"""


def main() -> int:
    rows = [
        Row(nodes, name, [scenario(nodes) for _ in range(REPETITIONS)])
        for nodes in SIZES
        for name, scenario in SCENARIOS.items()
    ]
    text = report(rows)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
