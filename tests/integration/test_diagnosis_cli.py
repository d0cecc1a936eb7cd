"""`aks-gpu-verify` names diagnosed faults with exit status 3, watches the plugin where it runs, and with
`--job NAME --namespace NS` waits for the acceptance Job and prints its verdicts."""

from __future__ import annotations

import json

import pytest

from aks_gpu.verifier.cli import EXIT_DIAGNOSED, EXIT_FAILED, EXIT_USAGE, EXIT_VERIFIED, main
from tests.support.harness import ROOT
from tests.support.kube_api_server import KubeApiServer
from tests.support.kube_objects import gpu_node, job, plugin_pod, waiting

NS, JOB = "gpu-resources", "gpu-acceptance-job-abc"
PASSED = (ROOT / "tests" / "data" / "h200_acceptance_pod.log").read_text()
FAILED = (ROOT / "tests" / "data" / "h200_acceptance_pod_fail.log").read_text()


@pytest.fixture
def kube(tmp_path):
    with KubeApiServer() as server:
        (tmp_path / "kubeconfig").write_text(server.kubeconfig())
        server.config_path = str(tmp_path / "kubeconfig")
        yield server


def crash(server: KubeApiServer, namespace: str) -> None:
    server.put_object(
        "pods", plugin_pod(namespace, "nvidia-device-plugin-z", status=waiting("CrashLoopBackOff", "", 4, 1))
    )
    server.set_log(namespace, "nvidia-device-plugin-z", "Failed to initialize NVML: Driver/library version mismatch\n")
    server.set_log(
        namespace,
        "nvidia-device-plugin-z",
        "Failed to initialize NVML: Driver/library version mismatch\n",
        previous=True,
    )


def test_a_diagnosed_fault_exits_3_with_the_report_and_the_cause(kube, capsys):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    crash(kube, NS)

    code = main(["--kubeconfig", kube.config_path, "--expected-gpus", "1", "--timeout", "60"])

    out, err = capsys.readouterr()
    assert code == EXIT_DIAGNOSED == 3
    assert json.loads(out)["verifiedGpus"] == 0
    assert "Diagnosed: device plugin pod gpu-resources/nvidia-device-plugin-z" in err
    assert "Driver/library version mismatch" in err


def test_the_plugin_namespace_option_points_the_watch_at_kube_system(kube, capsys):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    crash(kube, "kube-system")

    quiet = main(["--kubeconfig", kube.config_path, "--expected-gpus", "1", "--timeout", "3"])
    assert quiet == EXIT_FAILED  # the stack's namespace has no crashing plugin
    capsys.readouterr()

    code = main(
        [
            "--kubeconfig",
            kube.config_path,
            "--expected-gpus",
            "1",
            "--timeout",
            "60",
            "--plugin-namespace",
            "kube-system",
        ]
    )

    assert code == EXIT_DIAGNOSED
    assert "kube-system/nvidia-device-plugin-z" in capsys.readouterr().err


def put_done_job(server: KubeApiServer, log: str) -> None:
    server.put_object("jobs", job(NS, JOB, [{"type": "Complete", "status": "True"}]))
    server.put_pod(
        NS,
        f"{JOB}-0-x",
        job=JOB,
        phase="Succeeded",
        created="2026-12-01T10:00:00Z",
        log=log.replace("device-h200", "aks-gpu-0"),
        node="aks-gpu-0",
        annotations={"batch.kubernetes.io/job-completion-index": "0"},
    )


def test_job_waits_for_the_acceptance_job_and_prints_its_verdicts(kube, capsys):
    kube.put_node(gpu_node("aks-gpu-0"))
    put_done_job(kube, PASSED)

    code = main(["--kubeconfig", kube.config_path, "--expected-gpus", "1", "--job", JOB, "--namespace", NS])

    out, _ = capsys.readouterr()
    assert code == EXIT_VERIFIED
    printed = json.loads(out)
    assert printed["gpus"]["verifiedGpus"] == 1
    assert printed["workload"]["passed"] is True
    assert printed["workload"]["nodes"][0]["node"] == "aks-gpu-0"


def test_a_gpu_that_falls_short_in_the_job_exits_1_with_the_verdicts(kube, capsys):
    put_done_job(kube, FAILED)

    code = main(["--kubeconfig", kube.config_path, "--job", JOB, "--namespace", NS])

    out, err = capsys.readouterr()
    assert code == EXIT_FAILED
    assert json.loads(out)["workload"]["passed"] is False
    assert "aks-gpu-0" in err


def test_a_failed_job_exits_3(kube, capsys):
    failed = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff limit"}
    kube.put_object("jobs", job(NS, JOB, [failed]))

    code = main(["--kubeconfig", kube.config_path, "--job", JOB, "--namespace", NS, "--job-timeout", "60"])

    assert code == EXIT_DIAGNOSED
    assert "BackoffLimitExceeded" in capsys.readouterr().err


def test_neither_gpus_nor_a_job_is_bad_input(kube, capsys):
    assert main(["--kubeconfig", kube.config_path]) == EXIT_USAGE
    assert "--expected-gpus N, --job NAME, or both" in capsys.readouterr().err


def test_a_bad_namespace_is_bad_input(kube, capsys):
    assert main(["--kubeconfig", kube.config_path, "--expected-gpus", "1", "--plugin-namespace", "Kube_System"]) == 2
    assert "must be a Kubernetes namespace name" in capsys.readouterr().err
