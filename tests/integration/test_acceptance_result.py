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
