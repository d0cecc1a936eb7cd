"""Benchmark: seconds from a fault becoming visible in the cluster's API to the product naming it.

    python benchmarks/diagnosis_benchmark.py      # from the repository root

For each fault scenario of issue 16 it starts the product's wait as `pulumi up`
runs it (`wait_for_gpus` for the capacity check, `wait_for_job` for the
acceptance/MNIST result checks) against the local test API server, with the
product's real defaults (progress every 30 s, the 45 s scheduling grace, the
1,200 s verification and 3,600 s Job deadlines). Once the wait's watches are
open it publishes the fault through the API (the moment it becomes visible),
and measures until the wait raises DiagnosedFault. It checks that the message
names the object and quotes the cluster.

"Visible" is the state the rule needs: for a crash loop, the second restart
(the kubelet reaches it ~30 s after the first crash, with its 10 s / 20 s
back-off); that part is the cluster's time, not measured here. It prints a
Markdown table and writes it to benchmarks/diagnosis.md. Not a test: the
figures depend on the machine.
"""

from __future__ import annotations

import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script, the repository root is not on the path

from aks_gpu.verifier import api_client_from_kubeconfig, wait_for_gpus  # noqa: E402
from aks_gpu.verifier.errors import DiagnosedFault  # noqa: E402
from aks_gpu.verifier.job_wait import wait_for_job  # noqa: E402
from tests.support.kube_api_server import KubeApiServer  # noqa: E402
from tests.support.kube_objects import (  # noqa: E402
    event,
    gpu_node,
    job,
    job_pod,
    plugin_pod,
    terminated,
    waiting,
)

NS, JOB = "gpu-resources", "gpu-acceptance-bench"
VERIFY_TIMEOUT, JOB_TIMEOUT = 1200.0, 3600.0  # the product's defaults (Pulumi.yaml, builders/acceptance.py)
REPETITIONS = 3
RESULTS = REPO / "benchmarks" / "diagnosis.md"
NVML = "E1202 factory.go:115] Failed to initialize NVML: Driver/library version mismatch\n"
PULL_429 = 'Failed to pull image "{image}": failed to pull and unpack image: 429 Too Many Requests'


@dataclass(frozen=True)
class Scenario:
    """A fault: which wait sees it, how it is published, what the message must quote, and today's figure."""

    name: str
    wait: str  # "verification" or "job"
    publish: Callable[[KubeApiServer], None]
    quote: str
    today_seconds: int


def _crash(server: KubeApiServer) -> None:
    server.set_log(NS, "nvidia-device-plugin-b", NVML, previous=True)
    server.put_object(
        "pods", plugin_pod(NS, "nvidia-device-plugin-b", status=waiting("CrashLoopBackOff", "back-off 20s", 2, 1))
    )


def _plugin_pull(server: KubeApiServer) -> None:
    server.put_object("events", event(NS, "nvidia-device-plugin-b", "Failed", PULL_429.format(image="plugin")))
    server.put_object(
        "pods", plugin_pod(NS, "nvidia-device-plugin-b", status=waiting("ImagePullBackOff", "Back-off pulling image"))
    )


def _xid(server: KubeApiServer) -> None:
    xid = {"type": "XIDErrors", "status": "True", "reason": "XIDErrorsDetected", "message": "Xid 79"}
    server.put_node(gpu_node("aks-gpu-0", capacity=0, conditions=[xid]))


def _job_pull(server: KubeApiServer) -> None:
    server.put_object("events", event(NS, f"{JOB}-0-a", "Failed", PULL_429.format(image="pytorch")))
    server.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", status=waiting("ImagePullBackOff", "Back-off")))


def _mig(server: KubeApiServer) -> None:
    reason = "0/1 nodes are available: 1 Insufficient nvidia.com/mig-1g.10gb."
    server.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", unschedulable=reason))
    server.put_object(
        "events",
        event(
            NS, f"{JOB}-0-a", "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 Insufficient nvidia.com/mig-1g.10gb"
        ),
    )


def _unschedulable(server: KubeApiServer) -> None:
    reason = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    server.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", unschedulable=reason))


def _job_failed(server: KubeApiServer) -> None:
    server.set_log(NS, f"{JOB}-0-a", "python3: can't open file\n")
    server.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", phase="Failed", status=terminated(2)))
    failed = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff limit"}
    server.put_object("jobs", job(NS, JOB, [failed]))


def _pods_failing(server: KubeApiServer) -> None:
    for suffix in ("a", "b"):
        server.set_log(NS, f"{JOB}-0-{suffix}", "CUDA driver version is insufficient for CUDA runtime version\n")
        server.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-{suffix}", phase="Failed", status=terminated(1)))


SCENARIOS = (
    Scenario("device plugin CrashLoopBackOff (NVML mismatch)", "verification", _crash, "Driver/library version", 1200),
    Scenario("device plugin ImagePullBackOff (429)", "verification", _plugin_pull, "429 Too Many Requests", 1200),
    Scenario("GPU node condition XIDErrors", "verification", _xid, "XIDErrors is True", 1200),
    Scenario("acceptance image ImagePullBackOff (429)", "job", _job_pull, "429 Too Many Requests", 3600),
    Scenario("MIG from zero: NotTriggerScaleUp", "job", _mig, "NotTriggerScaleUp", 3600),
    Scenario("FailedScheduling, no autoscaler answer", "job", _unschedulable, "Insufficient nvidia.com/gpu", 3600),
    Scenario("Job Failed (BackoffLimitExceeded)", "job", _job_failed, "BackoffLimitExceeded", 3600),
    Scenario("Job pods failing twice (CUDA driver)", "job", _pods_failing, "CUDA driver version", 3600),
)


def measure(scenario: Scenario) -> float:
    """Seconds from publishing the fault to DiagnosedFault; raises if the wait ends otherwise."""
    outcome: dict[str, Any] = {}
    with KubeApiServer() as server:
        server.put_node(gpu_node("aks-gpu-0", capacity=0))
        server.put_object("jobs", job(NS, JOB))
        done = threading.Event()

        def run() -> None:
            try:
                with api_client_from_kubeconfig(server.kubeconfig()) as api:
                    if scenario.wait == "verification":
                        wait_for_gpus(api, 1, VERIFY_TIMEOUT, plugin_namespace=NS)
                    else:
                        wait_for_job(api, NS, JOB, JOB_TIMEOUT, plugin_namespace=NS)
            except Exception as error:  # noqa: BLE001 - reported below
                outcome["error"] = error
            outcome["at"] = time.monotonic()
            done.set()

        threading.Thread(target=run, daemon=True).start()
        collection = "nodes" if scenario.wait == "verification" else "jobs"
        server.wait_for_watch(1, timeout=30, collection=collection)
        server.wait_for_watch(1, timeout=30, collection="events")
        started = time.monotonic()
        scenario.publish(server)
        if not done.wait(120):
            raise RuntimeError(f"{scenario.name}: not diagnosed within 120 s")
    error = outcome.get("error")
    if not isinstance(error, DiagnosedFault) or scenario.quote not in str(error):
        raise RuntimeError(f"{scenario.name}: ended with {error!r}")
    return float(outcome["at"] - started)


def main() -> None:
    """Run every scenario `REPETITIONS` times; print and write the table."""
    rows = []
    for scenario in SCENARIOS:
        seconds = [measure(scenario) for _ in range(REPETITIONS)]
        rows.append(
            f"| {scenario.name} | {scenario.wait} | {statistics.median(seconds):.3f} | {max(seconds):.3f} "
            f"| {scenario.today_seconds:,} |"
        )
        print(rows[-1], flush=True)
    header = (
        "| fault | wait | named after (s, median) | worst (s) | before: the wait ended after (s, issue 16) |\n"
        "|---|---|---|---|---|"
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}"
    table = "\n".join([header, *rows])
    print(table)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    marker = "<!-- results -->"
    body = f"{marker}\nMeasured {stamp}, {machine}, {REPETITIONS} runs each:\n\n{table}\n"
    RESULTS.write_text(text.split(marker)[0] + body if marker in text else body, encoding="utf-8")


if __name__ == "__main__":
    main()
