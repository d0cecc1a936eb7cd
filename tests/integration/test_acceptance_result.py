"""Reading the acceptance Job's verdicts with the real `kubernetes` client over HTTP, from the
logs a real H200 printed (tests/data/h200_acceptance*.log).

`h200_acceptance_pod*.log` come from the committed script run unchanged, through the pod's own
command, with the expectation the program builds for Standard_ND96isr_H200_v5; the older
`h200_acceptance*.log` from the first runs while the script was written."""

from __future__ import annotations

import pytest

from aks_gpu.components.checks import AcceptanceResultProvider
from aks_gpu.verifier.acceptance_result import AcceptanceError, read_acceptance_result
from aks_gpu.verifier.kubeconfig import api_client_from_kubeconfig
from tests.support.harness import ROOT
from tests.support.kube_api_server import KubeApiServer

DATA = ROOT / "tests" / "data"
PASSED = (DATA / "h200_acceptance_pod.log").read_text()
FAILED = (DATA / "h200_acceptance_pod_fail.log").read_text()
FIRST_PASSED = (DATA / "h200_acceptance.log").read_text()
NS, JOB = "gpu-resources", "gpu-acceptance-job-abc"
INDEX = "batch.kubernetes.io/job-completion-index"


def put(server: KubeApiServer, index: int, node: str, log: str, created: str = "2026-12-01T10:00:00Z", name=None):
    server.put_pod(
        NS,
        name or f"{JOB}-{index}-x",
        job=JOB,
        phase="Succeeded",
        created=created,
        log=log.replace("device-h200", node),
        node=node,
        annotations={INDEX: str(index)},
    )


def read(server: KubeApiServer) -> dict:
    with api_client_from_kubeconfig(server.kubeconfig()) as api:
        return read_acceptance_result(api, NS, JOB)


def test_every_node_that_passed_is_recorded():
    with KubeApiServer() as server:
        server.put_job(NS, JOB, [{"type": "Complete", "status": "True"}])
        put(server, 0, "aks-gpu-0", PASSED)
        put(server, 1, "aks-gpu-1", PASSED)
        result = read(server)
    assert result["passed"] is True
    assert [n["node"] for n in result["nodes"]] == ["aks-gpu-0", "aks-gpu-1"]
    [gpu] = result["nodes"][0]["gpus"]
    # The figures the H200 really measured.
    assert (gpu["model"], gpu["tflops"], gpu["gbps"], gpu["accuracy"]) == ("NVIDIA H200", 666.62, 4275.7, 0.9883)
    assert (gpu["expectedTflops"], gpu["expectedGbps"], gpu["minFraction"]) == (989.5, 4800.0, 0.5)
    assert gpu["passed"] is True and gpu["driverVersion"] == "580.159.04"


def test_the_first_h200_runs_still_parse():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", FIRST_PASSED)
        [node] = read(server)["nodes"]
    assert node["gpus"][0]["tflops"] == 695.15 and node["passed"] is True


def test_a_gpu_that_falls_short_fails_naming_node_gpu_and_figures():
    with KubeApiServer() as server:
        server.put_job(NS, JOB, [{"type": "Complete", "status": "True"}])
        put(server, 0, "aks-gpu-0", PASSED)
        put(server, 1, "aks-gpu-1", FAILED)
        with pytest.raises(AcceptanceError) as error:
            read(server)
    message = str(error.value)
    assert "node aks-gpu-1 GPU 0 (NVIDIA H200)" in message and "aks-gpu-0" not in message
    assert "bf16 matmul 670.9 TFLOP/s < 1.5 x 989.5 = 1484.2 TFLOP/s" in message
    assert "memory copy 4273.7 GB/s < 1.5 x 4800 = 7200.0 GB/s" in message
    assert error.value.result["passed"] is False


def test_a_retried_index_reads_its_newest_pod():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", FAILED, created="2026-12-01T10:00:00Z", name="old")
        put(server, 0, "aks-gpu-0", PASSED, created="2026-12-01T11:00:00Z", name="new")
        result = read(server)
    assert [n["pod"] for n in result["nodes"]] == ["new"]


def test_a_pod_without_a_verdict_fails():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", "Traceback (most recent call last):\n  ImportError: no torch\n")
        with pytest.raises(AcceptanceError, match="no AKS_GPU_ACCEPTANCE_SUMMARY line"):
            read(server)


def test_the_dynamic_provider_records_the_result_without_the_kubeconfig():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", PASSED)
        outs = (
            AcceptanceResultProvider().create({"kubeconfig": server.kubeconfig(), "namespace": NS, "jobName": JOB}).outs
        )
    assert outs["result"]["passed"] is True
    assert "kubeconfig" not in outs


# --- The package's logs: 20 healthy runs and one with a second process on the GPU (device tool H200) -------------

RUNS = (DATA / "h200_acceptance_20runs.log").read_text()
LOADED = (DATA / "h200_acceptance_loaded.log").read_text()
ONE_RUN = RUNS.split("=== run 2 start")[0]


def node_with(name: str, conditions: list[dict]) -> dict:
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def test_the_packages_healthy_run_passes_with_its_checks_and_time():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", ONE_RUN)
        [node] = read(server)["nodes"]
    [gpu] = node["gpus"]
    assert node["passed"] and node["summary"]["seconds"] == 13.8 and node["problems"] == []
    assert {c["name"]: c["status"] for c in gpu["checks"]} == dict.fromkeys(("matmul", "copy", "h2d", "d2h"), "pass")
    assert (gpu["matmul"], gpu["copy"], gpu["h2d"]) == (677.83, 4266.1, 55.44)


def test_the_result_carries_the_table_people_read_one_row_per_node_and_gpu():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", ONE_RUN)
        put(server, 1, "aks-gpu-1", ONE_RUN)
        table = read(server)["table"]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "aks-gpu-" in line]
    assert len(rows) == 2 and "aks-gpu-0" in rows[0] and "aks-gpu-1" in rows[1]
    assert "677.8 / 608" in rows[0] and "4266.1 / 3825" in rows[0] and "NVIDIA H200" in rows[0]


def test_a_second_process_on_the_gpu_fails_naming_the_rates():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", LOADED)
        with pytest.raises(AcceptanceError) as error:
            read(server)
    [line] = [line for line in str(error.value).splitlines() if "GPU 0" in line]
    assert "node aks-gpu-0 GPU 0 (NVIDIA H200): matmul 346.8 TFLOP/s < floor 607.5 TFLOP/s (measured)" in line
    assert "copy 2328.4 GB/s < floor 3825.0 GB/s" in line and "another process uses the GPU" in line


def test_a_true_node_problem_detector_gpu_condition_fails_that_node():
    with KubeApiServer() as server:
        put(server, 0, "aks-gpu-0", ONE_RUN)
        put(server, 1, "aks-gpu-1", ONE_RUN)
        server.put_node(node_with("aks-gpu-0", [{"type": "XIDErrors", "status": "False"}]))
        xid = {"type": "XIDErrors", "status": "True", "reason": "XIDError", "message": "Xid 79 on GPU 3"}
        server.put_node(node_with("aks-gpu-1", [xid, {"type": "Ready", "status": "True"}]))
        with pytest.raises(AcceptanceError) as error:
            read(server)
    assert "node aks-gpu-1: Node Problem Detector reports XIDErrors (XIDError: Xid 79 on GPU 3)" in str(error.value)
    assert "aks-gpu-0:" not in str(error.value)
    nodes = error.value.result["nodes"]
    assert [n["passed"] for n in nodes] == [True, False]


def test_a_node_clearly_below_its_pool_fails_naming_both_medians():
    slow = ONE_RUN.replace('"matmul":677.83', '"matmul":580.0')
    with KubeApiServer() as server:
        for index, log in enumerate((ONE_RUN, ONE_RUN, slow)):
            put(server, index, f"aks-gpu-{index}", log)
        with pytest.raises(AcceptanceError) as error:
            read(server)
    assert "node aks-gpu-2: matmul median 580.0 TFLOP/s < 0.92 x the pool's median 677.8 TFLOP/s" in str(error.value)
