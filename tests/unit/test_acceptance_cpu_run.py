"""The in-pod package's whole flow on the CPU: concurrent measuring processes, GPU-to-GPU copies and a gloo
all-reduce across several processes, exactly the multi-GPU code paths an 8-GPU node runs (with NCCL there).

Needs torch (any build; these run on the CPU): skipped where it is not installed, as in CI. Locally:
`PYTHONPATH=$PWD:/path/to/torch python -m pytest tests/unit/test_acceptance_cpu_run.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aks_gpu.verifier.acceptance import parse_acceptance_log
from aks_gpu.workloads import gpu_acceptance as package
from aks_gpu.workloads.gpu_acceptance import measure, multi

try:
    import torch
except ImportError:
    torch = None

pytestmark = pytest.mark.skipif(torch is None, reason="torch is not installed (the in-pod package's CPU run needs it)")
WORKLOADS = Path(package.__file__).resolve().parent.parent


def run_node(devices: int, checks: dict, tmp_path: Path) -> tuple[int, str]:
    """Run `python -m gpu_acceptance` as the pod does (package dir on PYTHONPATH), on `devices` CPU devices."""
    expectation = {"model": "cpu", "dtype": "fp32", "steps": 20, "allreduceBytes": 1 << 20, "checks": checks}
    env = {**os.environ, package.DEVICE_ENV: "cpu", "AKS_GPU_ACCEPTANCE_CPU_DEVICES": str(devices)}
    env.update({package.EXPECTATION_ENV: json.dumps(expectation), "NODE_NAME": "cpu-node", "OMP_NUM_THREADS": "1"})
    env["PYTHONPATH"] = os.pathsep.join([str(WORKLOADS), *sys.path])
    done = subprocess.run(
        [sys.executable, "-m", "gpu_acceptance"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    return done.returncode, done.stdout


def test_two_devices_at_once_with_pairs_and_an_all_reduce(tmp_path):
    checks = {"matmul": {"floor": 1e-6, "basis": "measured", "source": "test"}}
    checks["allreduce"] = {"floor": 1e-6, "basis": "aznhc", "source": "test"}
    code, out = run_node(2, checks, tmp_path)
    parsed = parse_acceptance_log(out)
    summary = parsed["summary"]
    assert code in (0, 1) and len(parsed["records"]) == 2, out  # CPU "devices" may differ: outliers may fail one
    assert summary["concurrent"] is True and summary["seconds"] > 0
    [allreduce] = summary["checks"]
    assert allreduce["name"] == "allreduce" and allreduce["status"] == "pass" and allreduce["value"] > 0
    for record in parsed["records"]:
        assert record["matmul"] > 0 and record["copy"] > 0 and record["h2d"] > 0 and record["p2p"] > 0
        assert record["accuracy"] >= 0.95 and record["maxRelError"] < 1e-4
        assert [c["name"] for c in record["checks"]] == ["matmul", "copy", "h2d", "d2h", "p2p"]
    assert "measurement time" in out and out.splitlines()[-1].startswith("AKS_GPU_ACCEPTANCE_SUMMARY {")


def test_a_floor_no_device_reaches_fails_every_device(tmp_path):
    code, out = run_node(1, {"copy": {"floor": 1e9, "basis": "measured", "source": "test"}}, tmp_path)
    parsed = parse_acceptance_log(out)
    assert code == 1 and not parsed["passed"]
    assert parsed["records"][0]["reasons"][0].startswith("copy ") and "< floor 1000000000.0 GB/s" in out
    assert "FAILED node cpu-node GPU 0: copy" in out


def test_a_bad_expectation_cannot_run(tmp_path):
    env = {**os.environ, package.DEVICE_ENV: "cpu", package.EXPECTATION_ENV: "{", "PYTHONPATH": str(WORKLOADS)}
    done = subprocess.run([sys.executable, "-m", "gpu_acceptance"], env=env, capture_output=True, text=True)
    assert done.returncode == package.EXIT_NOT_RUN
    assert "bad expectation" in parse_acceptance_log(done.stdout)["summary"]["error"]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_measurements_on_the_cpu():
    tflops, error = measure.measure_matmul(torch, "cpu", "fp32", 64, samples=3)
    assert 0 < tflops < 100 and error < 1e-5
    assert 0 < measure.measure_copy(torch, "cpu", 1 << 20, samples=3) < 1e5
    h2d, d2h = measure.measure_host_copies(torch, "cpu", 1 << 16, samples=3)
    assert h2d > 0 and d2h > 0
    lines: list[str] = []
    assert measure.train_classifier(torch, "cpu", 25, seed=3, log=lines.append) >= 0.95
    assert lines[0].startswith("Accuracy at step 0: ") and lines[-1].startswith("Accuracy at step 25: ")
    pairs = multi.measure_pairs(torch, "cpu", 3, 1 << 12)
    assert sorted(pairs["pairs"]) == ["0->1", "0->2", "1->0", "1->2", "2->0", "2->1"] and len(pairs["perDevice"]) == 3


def test_the_barrier_waits_for_every_device(tmp_path):
    assert measure.wait_for_all(tmp_path, 0, 1, timeout=1)
    assert not measure.wait_for_all(tmp_path, 1, 3, timeout=0.2)  # two of three ready
    assert measure.matrix_size(140 * 2**30, 2) == 8192 and measure.matrix_size(0, 4) == 256
