"""Benchmark of the GPU check (aks_gpu.verifier) against the local test API server.

    python benchmarks/verify_benchmark.py [--before REV]     # from the repository root

For 10 and 5,000 GPU nodes it measures
- how long `wait_for_gpus` takes to return after the server publishes the last
  GPU (the node's allocatable goes from 0 to 1) while the check is watching;
- how long the check takes when every GPU is already there (list only);
- how many API requests each run makes.
For 1,000, 10,000 and 20,000 GPU nodes it measures "every GPU node's devices
appear while watching": every node is there without GPUs when the check lists and
opens its watch, then the server marks each node allocatable, one event per node.
The server runs in a process of its own, so the check's process CPU and peak memory
are the check's alone; time runs from the first publication to the check returning.
`--before REV` adds the same rows for the verifier of a git revision (its
aks_gpu/ taken with `git archive`), against the same server.
It prints Markdown and writes benchmarks/RESULTS.md. It is not a test: the figures
depend on the machine and on its load, which the report states.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
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
APPEAR_SIZES = (1000, 10000, 20000)
APPEAR_REPETITIONS = 3
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


def report(rows: list[Row], appear: list[AppearRow], appear_repetitions: int, loads: list[str]) -> str:
    return f"""# GPU check benchmark

- Command: `{COMMAND}` (from the repository root)
- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
- Machine: {machine()}
- Machine load average: {loads[0]} at the start, {loads[-1]} at the end. The cores are
  shared with other work, so the figures are those of a busy machine.
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
  network round trip and its own serialisation time. It keeps node names sorted as they
  change and resumes a page from the last name served, so a page costs its own size.

## Every GPU node's devices appear while watching

{appear_table(appear)}

- Every node is there, Ready, without GPUs (allocatable 0) when the check lists and
  opens its watch; then the server gives each node its GPU, one change and one watch
  event per node, as fast as it can publish. *median s*: from the first publication to
  `wait_for_gpus` returning ({appear_repetitions} runs for this revision, 1 for the
  revision before). *server publishing s*: how long the server took to publish them all:
  the check cannot finish before it.
- The server runs in a process of its own (HTTP on 127.0.0.1), so the check's figures are
  its own: *check CPU s* is the check process's CPU over the whole wait (its list of every
  node included); *watch CPU per event* is its CPU from the end of that list (its first
  progress line) to its return, divided by the events; *check peak MiB* its peak resident
  memory (the kubernetes client included). Both processes share the two cores.
"""


# The server's process: a fleet without GPUs; once the check watches, every node gets
# its GPU, one put (one resourceVersion, one watch event) per node.
SERVER_CHILD = """
import json, sys, time
from tests.support.kube_api_server import KubeApiServer, gpu_node
nodes, kubeconfig = int(sys.argv[1]), sys.argv[2]
names = [f"aks-gpu-{i:05d}" for i in range(nodes)]
with KubeApiServer() as server:
    server.put_nodes(gpu_node(name, allocatable=0) for name in names)
    with open(kubeconfig, "w") as out:
        out.write(server.kubeconfig())
    print("ready", flush=True)
    server.wait_for_watch(timeout=600)
    started = time.monotonic()
    for name in names:
        server.put_node(gpu_node(name))
    print(json.dumps({"started": started, "published": time.monotonic()}), flush=True)
    sys.stdin.readline()
"""
# The check's process: one wait_for_gpus; CLOCK_MONOTONIC is shared by both processes.
# The first progress line that counts 0 GPUs comes once the list is complete: CPU from
# there on is the watch's.
VERIFIER_CHILD = """
import json, sys, time
from aks_gpu.verifier import api_client_from_kubeconfig, wait_for_gpus
kubeconfig, nodes = open(sys.argv[1]).read(), int(sys.argv[2])
listed = []
def progress(line):
    if not listed and line.startswith("0/"):
        listed.append(time.process_time())
with api_client_from_kubeconfig(kubeconfig) as api:
    cpu = time.process_time()
    report = wait_for_gpus(api, nodes, 600, progress=progress)
    returned, end = time.monotonic(), time.process_time()
assert report.verified == nodes and listed, report.verified
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"returned": returned, "cpu": end - cpu, "watch_cpu": end - listed[0], "peak_mib": peak}))
"""


@dataclass(frozen=True)
class AppearSample:
    seconds: float
    publish_seconds: float
    cpu_seconds: float
    watch_cpu_seconds: float
    peak_mib: float


def _env(pythonpath: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(pythonpath)}


def all_gpus_appear(nodes: int, verifier_tree: Path = REPO) -> AppearSample:
    """Every node's GPU published one by one while the check (from `verifier_tree`) watches."""
    with tempfile.TemporaryDirectory() as work:
        kubeconfig = Path(work) / "kubeconfig"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER_CHILD, str(nodes), str(kubeconfig)],
            cwd=REPO,
            env=_env(REPO),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdin is not None
            assert server.stdout.readline().strip() == "ready"
            checked = subprocess.run(
                [sys.executable, "-c", VERIFIER_CHILD, str(kubeconfig), str(nodes)],
                cwd=work,
                env=_env(verifier_tree),
                capture_output=True,
                text=True,
                timeout=900,
                check=True,
            )
            publication = json.loads(server.stdout.readline())
            server.stdin.write("stop\n")
            server.stdin.flush()
        finally:
            server.wait(60)
    check = json.loads(checked.stdout.strip().splitlines()[-1])
    return AppearSample(
        seconds=check["returned"] - publication["started"],
        publish_seconds=publication["published"] - publication["started"],
        cpu_seconds=check["cpu"],
        watch_cpu_seconds=check["watch_cpu"],
        peak_mib=check["peak_mib"],
    )


@dataclass(frozen=True)
class AppearRow:
    label: str
    nodes: int
    samples: list[AppearSample]

    def cells(self) -> list[str]:
        def median(field: str) -> float:
            return statistics.median(getattr(sample, field) for sample in self.samples)

        return [
            self.label,
            f"{self.nodes:,}",
            f"{median('seconds'):.2f}",
            f"{max(sample.seconds for sample in self.samples):.2f}",
            f"{median('publish_seconds'):.2f}",
            f"{median('cpu_seconds'):.2f}",
            f"{median('watch_cpu_seconds') / self.nodes * 1e6:.0f}",
            f"{median('peak_mib'):.0f}",
        ]


def appear_table(rows: list[AppearRow]) -> str:
    header = [
        "verifier",
        "GPU nodes",
        "median s",
        "max s",
        "server publishing s",
        "check CPU s",
        "watch CPU µs per event",
        "check peak MiB",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row.cells()) + " |" for row in rows])


def verifier_tree(revision: str, work: Path) -> Path:
    """The repository's aks_gpu/ at `revision`, unpacked under `work`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "aks_gpu"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    return work


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def appear_rows(before: str | None, repetitions: int) -> list[AppearRow]:
    rows = [
        AppearRow("this revision", nodes, [all_gpus_appear(nodes) for _ in range(repetitions)])
        for nodes in APPEAR_SIZES
    ]
    if before:
        with tempfile.TemporaryDirectory() as work:
            tree = verifier_tree(before, Path(work))
            # The quadratic verifier takes minutes at 20,000 nodes: one run per size.
            rows += [AppearRow(f"before ({before})", nodes, [all_gpus_appear(nodes, tree)]) for nodes in APPEAR_SIZES]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark of the GPU check against the test API server")
    parser.add_argument("--before", help="also run the appear-while-watching rows with the verifier of this revision")
    parser.add_argument("--appear-repetitions", type=int, default=APPEAR_REPETITIONS)
    args = parser.parse_args(argv)
    loads = [load()]
    rows = [
        Row(nodes, name, [scenario(nodes) for _ in range(REPETITIONS)])
        for nodes in SIZES
        for name, scenario in SCENARIOS.items()
    ]
    appear = appear_rows(args.before, args.appear_repetitions)
    loads.append(load())
    text = report(rows, appear, args.appear_repetitions, loads)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
