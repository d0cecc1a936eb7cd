"""Tests for aks_gpu.verifier: the real `kubernetes` client over real HTTP
against the local API server in tests/kube_api_server.py."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes.client
import pytest

from aks_gpu.verifier import (
    DEFAULT_SELECTOR,
    USUAL_CAUSES,
    Backoff,
    ClusterAccessError,
    GpuNode,
    GpuReport,
    GpuTimeoutError,
    GpuWaiter,
    VerificationError,
    api_client_from_kubeconfig,
    parse_sample_log,
    read_job_result,
    wait_for_gpus,
)
from aks_gpu.verifier.cli import main
from tests.support.kube_api_server import (
    DEFAULT_TOKEN,
    KubeApiServer,
    TlsFiles,
    cpu_node,
    gpu_node,
)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
RESULT = 15  # seconds a test waits for a background check; never reached when green


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def api(kube: KubeApiServer) -> Iterator[kubernetes.client.ApiClient]:
    with api_client_from_kubeconfig(kube.kubeconfig()) as client:
        yield client


@pytest.fixture
def background() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def fast_waiter(api: kubernetes.client.ApiClient, expected: int, timeout: float = RESULT, **options) -> GpuWaiter:
    """A waiter whose retries take milliseconds, so fault tests stay quick."""
    return GpuWaiter(api, expected, timeout, backoff=Backoff(initial=0.01, maximum=0.05), **options)


def node_names(report: GpuReport) -> list[str]:
    return [node.name for node in report.nodes]


def watch_versions(kube: KubeApiServer) -> list[str]:
    return [r.query["resourceVersion"] for r in kube.requests if r.is_watch]


# --- Waiting for GPUs ----------------------------------------------------------


def test_gpus_already_allocatable_are_reported_without_watching(kube, api):
    kube.put_nodes(
        [
            gpu_node("aks-gpu-0"),
            # The GPU feature discovery label is ignored: AKS nodes do not carry it.
            gpu_node(
                "aks-gpu-1",
                capacity=2,
                vm_size="Standard_NC48ads_A100_v4",
                labels={"nvidia.com/gpu.product": "NVIDIA-A100-PCIE-80GB"},
            ),
            gpu_node("aks-gpu-2", vm_size=None),
            gpu_node("aks-gpu-3", vm_size="Standard_NC4as_T5_v9"),  # not in the catalog
            cpu_node("aks-system-0"),
        ]
    )

    report = wait_for_gpus(api, expected=5, timeout=RESULT)

    usable = {"ready": True, "schedulable": True, "notUsableBecause": []}
    assert report.to_dict() == {
        "resource": "nvidia.com/gpu",
        "expectedGpus": 5,
        "verifiedGpus": 5,
        "nodes": [
            {
                "name": "aks-gpu-0",
                "capacity": 1,
                "allocatable": 1,
                "gpuProduct": "NVIDIA T4 16 GB",
                "vmSize": "Standard_NC4as_T4_v3",
                **usable,
            },
            {
                "name": "aks-gpu-1",
                "capacity": 2,
                "allocatable": 2,
                "gpuProduct": "NVIDIA A100 80 GB PCIe",
                "vmSize": "Standard_NC48ads_A100_v4",
                **usable,
            },
            {"name": "aks-gpu-2", "capacity": 1, "allocatable": 1, "gpuProduct": None, "vmSize": None, **usable},
            {
                "name": "aks-gpu-3",
                "capacity": 1,
                "allocatable": 1,
                "gpuProduct": None,
                "vmSize": "Standard_NC4as_T5_v9",
                **usable,
            },
        ],
    }
    assert report.verified >= report.expected
    assert kube.count(watch=False) == 1
    assert kube.count(watch=True) == 0
    assert kube.requests[0].query["labelSelector"] == DEFAULT_SELECTOR


def test_expecting_zero_gpus_only_records_what_is_there(kube, api):
    # A pool autoscaled from zero without a sample job: nothing will bring a node up.
    kube.put_nodes([gpu_node("aks-gpu-0", allocatable=0), cpu_node("aks-system-0")])

    report = wait_for_gpus(api, expected=0, timeout=RESULT)

    assert report == GpuReport(
        expected=0, nodes=(GpuNode("aks-gpu-0", 1, 0, "NVIDIA T4 16 GB", "Standard_NC4as_T4_v3"),)
    )
    assert kube.count() == 1


def test_gpus_appearing_later_are_seen_through_the_watch(kube, api, background):
    kube.put_node(cpu_node("aks-system-0"))
    progress: list[str] = []
    result = background.submit(wait_for_gpus, api, 2, RESULT, progress=progress.append)

    kube.wait_for_watch()
    kube.put_node(gpu_node("aks-gpu-0", capacity=1, allocatable=0))
    kube.put_node(gpu_node("aks-gpu-0", capacity=1, allocatable=1))
    kube.put_node(gpu_node("aks-gpu-1"))
    report = result.result(RESULT)

    assert (report.verified, node_names(report)) == (2, ["aks-gpu-0", "aks-gpu-1"])
    # One list and one watch: the check waited on the stream, it did not poll.
    assert (kube.count(watch=False), kube.count(watch=True)) == (1, 1)
    assert progress[-1].startswith("2/2 nvidia.com/gpu allocatable on 2 usable of 2 node(s)")


def test_deleted_and_relabelled_nodes_stop_counting(kube, api, background):
    kube.put_nodes([gpu_node("aks-gpu-0"), gpu_node("aks-gpu-1")])
    result = background.submit(wait_for_gpus, api, 3, RESULT)

    kube.wait_for_watch()
    kube.delete_node("aks-gpu-0")
    relabelled = gpu_node("aks-gpu-1")
    del relabelled["metadata"]["labels"]["kubernetes.azure.com/accelerator"]
    kube.put_node(relabelled)  # leaves the selection: the watch sends DELETED
    kube.put_nodes([gpu_node("aks-gpu-2"), gpu_node("aks-gpu-3")])
    kube.put_node(gpu_node("aks-gpu-4"))
    report = result.result(RESULT)

    assert node_names(report) == ["aks-gpu-2", "aks-gpu-3", "aks-gpu-4"]


def test_capacity_without_allocatable_times_out_naming_every_node(kube, api):
    kube.put_nodes(
        [
            gpu_node("aks-gpu-0", capacity=2, allocatable=0),
            gpu_node("aks-gpu-1", capacity=0),  # no driver: no nvidia.com/gpu at all
            cpu_node("aks-system-0"),
        ]
    )

    with pytest.raises(GpuTimeoutError) as caught:
        wait_for_gpus(api, expected=2, timeout=2)

    message = str(caught.value)
    assert "Timed out after 2s waiting for 2 allocatable nvidia.com/gpu on usable nodes: 0 verified." in message
    assert "aks-gpu-0 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 2, allocatable 0" in message
    assert "aks-gpu-1 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 0, allocatable 0" in message
    assert "Left out" not in message
    assert "aks-system-0" not in message
    for cause in USUAL_CAUSES:
        assert cause in message
    for topic in ("tolerate", "spot", "not running", "wrong image", "driver", "autoscaler", "quota"):
        assert topic in message
    assert caught.value.report == GpuReport(
        expected=2,
        nodes=(
            GpuNode("aks-gpu-0", 2, 0, "NVIDIA T4 16 GB", "Standard_NC4as_T4_v3"),
            GpuNode("aks-gpu-1", 0, 0, "NVIDIA T4 16 GB", "Standard_NC4as_T4_v3"),
        ),
    )
    # Watching, not polling: a list and one or two watches over the whole wait.
    assert kube.count() <= 3


def test_timeout_without_any_gpu_node_says_none_matched(kube, api):
    kube.put_node(cpu_node("aks-system-0"))

    with pytest.raises(GpuTimeoutError) as caught:
        wait_for_gpus(api, expected=1, timeout=2, selector="pool=gpu")

    assert "No node matches the selector pool=gpu yet." in str(caught.value)
    assert "Last API error" not in str(caught.value)
    assert caught.value.report == GpuReport(expected=1, nodes=())


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_errors_are_retried_with_backoff(kube, api, status):
    kube.put_node(gpu_node("aks-gpu-0"))
    kube.fail_next(3, status)
    progress: list[str] = []

    report = fast_waiter(api, 1, progress=progress.append).run()

    assert report.verified == 1
    assert kube.count() == 4
    assert sum(f"HTTP {status}" in line and "retrying in" in line for line in progress) == 3


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    backoff = Backoff(initial=1.0, factor=2.0, maximum=5.0)
    rng = random.Random(7)

    delays = [backoff.delay(failures, rng) for failures in range(1, 7)]

    for delay, base in zip(delays, [1, 2, 4, 5, 5, 5], strict=True):
        assert base / 2 <= delay <= base
    assert len(set(delays[3:])) == 3  # jittered, not one fixed value


def test_retries_never_sleep_past_the_deadline(kube, api):
    kube.fail_next(1000, 500)

    class FakeTime:
        now = 0.0
        sleeps: list[float] = []

        def clock(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            self.now += seconds

    fake = FakeTime()
    waiter = GpuWaiter(api, 1, timeout=30, clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(GpuTimeoutError) as caught:
        waiter.run()

    assert sum(fake.sleeps) == pytest.approx(30)
    assert max(fake.sleeps) <= Backoff().maximum
    assert fake.sleeps[:3] == sorted(fake.sleeps[:3])
    assert "Last API error: HTTP 500" in str(caught.value)
    assert caught.value.report.resource == "nvidia.com/gpu"
    assert "No node matches" in str(caught.value)


def test_dropped_watch_resumes_from_the_last_seen_version(kube, api, background):
    listed = kube.put_node(gpu_node("aks-gpu-0", capacity=1, allocatable=0))
    kube.drop_next_watch(after_events=1)
    result = background.submit(fast_waiter(api, 2).run)

    kube.wait_for_watch(1)
    seen = kube.put_node(gpu_node("aks-gpu-0"))  # delivered, then the stream is cut
    kube.wait_for_watch(2)
    kube.put_node(gpu_node("aks-gpu-1"))
    report = result.result(RESULT)

    assert report.verified == 2
    assert watch_versions(kube) == [listed, seen]
    assert kube.count(watch=False) == 1


def test_bookmark_moves_the_resume_version(kube, api, background):
    listed = kube.put_nodes([gpu_node("aks-gpu-0", allocatable=0), cpu_node("aks-system-0")])
    kube.drop_next_watch(after_events=1)
    result = background.submit(fast_waiter(api, 1).run)

    kube.wait_for_watch(1)
    elsewhere = kube.put_node(cpu_node("aks-system-0"))  # not in the watch's selection
    kube.bookmark()  # the only event delivered before the stream is cut
    kube.wait_for_watch(2)
    kube.put_node(gpu_node("aks-gpu-0"))
    result.result(RESULT)

    assert watch_versions(kube) == [listed, elsewhere]


@pytest.mark.parametrize("as_event", [True, False], ids=["error-event", "http-410"])
def test_expired_watch_on_resume_lists_again(kube, api, background, as_event):
    listed = kube.put_node(gpu_node("aks-gpu-0", allocatable=0))
    kube.drop_next_watch(after_events=1)
    kube.expire_watch_from(str(int(listed) + 1), as_event=as_event)
    progress: list[str] = []
    result = background.submit(fast_waiter(api, 2, progress=progress.append).run)

    kube.wait_for_watch(1)
    seen = kube.put_node(gpu_node("aks-gpu-0"))  # the resume from here gets 410
    kube.wait_for_watch(2)
    kube.put_node(gpu_node("aks-gpu-1"))
    report = result.result(RESULT)

    assert report.verified == 2
    assert kube.count(watch=False) == 2
    assert watch_versions(kube) == [listed, seen, seen]
    assert any("410 Gone" in line for line in progress)


@pytest.mark.parametrize("status", [401, 403])
def test_access_errors_fail_at_once(kube, status):
    kube.put_node(gpu_node("aks-gpu-0"))
    wrong_token = "expired-token-7d1e0c"
    token = wrong_token if status == 401 else DEFAULT_TOKEN
    if status == 403:
        kube.deny(403)

    with api_client_from_kubeconfig(kube.kubeconfig(token)) as client:
        with pytest.raises(ClusterAccessError) as caught:
            fast_waiter(client, 1, timeout=5).run()

    message = str(caught.value)
    assert kube.count() == 1
    assert f"HTTP {status}" in message
    expected_hint = "fetch fresh cluster credentials" if status == 401 else "list and watch on nodes"
    assert expected_hint in message
    assert DEFAULT_TOKEN not in message and wrong_token not in message


def test_thousands_of_nodes_are_listed_in_pages_and_watched(kube, api, background):
    gpus = [gpu_node(f"aks-gpu-{i:04d}") for i in range(3999)]
    late = gpu_node("aks-gpu-3999", allocatable=0)
    kube.put_nodes([*gpus, late, *(cpu_node(f"aks-system-{i:04d}") for i in range(1000))])
    result = background.submit(wait_for_gpus, api, 4000, RESULT)

    kube.wait_for_watch()
    kube.put_node(gpu_node("aks-gpu-3999"))
    report = result.result(RESULT)

    assert (report.verified, len(report.nodes)) == (4000, 4000)
    lists = [r for r in kube.requests if not r.is_watch]
    assert len(lists) == 8  # 4,000 GPU nodes, 500 a page
    assert all(r.query["limit"] == "500" for r in lists)
    assert all("continue" in r.query for r in lists[1:])
    assert kube.count(watch=True) == 1


# --- Kubeconfig ----------------------------------------------------------------


def broken_kubeconfigs(token: str) -> dict[str, str]:
    """Kubeconfigs that cannot be used, each holding `token` somewhere."""
    return {
        "yaml-error-on-token-line": f"users:\n- user:\n    token: {token}: x\n",
        "bare-token": token,
        "no-contexts": f"users:\n- name: u\n  user:\n    token: {token}\n",
        "bad-base64": (
            "current-context: c\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
            "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
            f"users: [{{name: u, user: {{client-key-data: '{token}!'}}}}]\n"
        ),
    }


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("yaml-error-on-token-line", "not valid YAML at line 3"),
        ("bare-token", "not a YAML mapping"),
        ("no-contexts", "not usable"),
        ("bad-base64", "client-key-data is not valid base64"),
    ],
)
def test_unusable_kubeconfig_is_reported_without_its_secrets(case, expected):
    with pytest.raises(VerificationError) as caught:
        api_client_from_kubeconfig(broken_kubeconfigs(DEFAULT_TOKEN)[case])

    assert expected in str(caught.value)
    assert DEFAULT_TOKEN not in str(caught.value)


def test_token_never_appears_in_progress_or_errors(kube, api, tmp_path, capsys):
    kube.put_node(gpu_node("aks-gpu-0", allocatable=0))
    kube.fail_next(2, 500)
    progress: list[str] = []
    messages: list[str] = []
    with pytest.raises(GpuTimeoutError) as timed_out:
        fast_waiter(api, 1, timeout=1.5, progress=progress.append).run()
    messages.append(str(timed_out.value))
    kube.deny(403)
    with pytest.raises(ClusterAccessError) as denied:
        wait_for_gpus(api, 1, 5, progress=progress.append)
    messages.append(str(denied.value))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(broken_kubeconfigs(DEFAULT_TOKEN)["yaml-error-on-token-line"])
    assert main(["--kubeconfig", str(kubeconfig), "--expected-gpus", "1"]) == 2
    captured = capsys.readouterr()

    assert any("HTTP 500" in line for line in progress)  # the faults did happen
    for text in [*progress, *messages, captured.out, captured.err]:
        assert DEFAULT_TOKEN not in text


def client_certificate_kubeconfig(server: KubeApiServer, tls_files: TlsFiles) -> str:
    """An AKS-style kubeconfig: inline CA, client certificate and key, no token."""
    directory = Path(tls_files.ca_cert).parent
    return server.kubeconfig(
        ca_data=(directory / "ca.crt").read_bytes(),
        client_cert_data=(directory / "client.crt").read_bytes(),
        client_key_data=(directory / "client.key").read_bytes(),
    )


def test_client_certificate_kubeconfig_never_reaches_the_disk(tls_files, tmp_path, monkeypatch):
    # The kubernetes client would put inline certificates and keys into temp files.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with KubeApiServer(token=None, tls=tls_files) as server:
        server.put_node(gpu_node("aks-gpu-0"))
        kubeconfig = client_certificate_kubeconfig(server, tls_files)
        with api_client_from_kubeconfig(kubeconfig) as client:
            report = wait_for_gpus(client, 1, RESULT)

    assert report.verified == 1  # the server only talks to holders of the client certificate
    assert os.listdir(tmp_path) == []


def test_without_memory_files_the_key_file_is_removed_at_once(tls_files, tmp_path, monkeypatch):
    # macOS has no memfd_create: the key may touch the disk only while ssl loads it.
    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with KubeApiServer(token=None, tls=tls_files) as server:
        server.put_node(gpu_node("aks-gpu-0"))
        kubeconfig = client_certificate_kubeconfig(server, tls_files)
        with api_client_from_kubeconfig(kubeconfig) as client:
            assert os.listdir(tmp_path) == []
            report = wait_for_gpus(client, 1, RESULT)

    assert report.verified == 1


# --- Sample job result ---------------------------------------------------------


def test_parse_sample_log_takes_the_last_accuracy_line():
    log = (DATA / "mnist_log.txt").read_text()

    result = parse_sample_log(log)

    # The last line, not the best one: step 470 reached 0.9539.
    assert (result["accuracy"], result["step"]) == (0.9494, 490)
    assert result["lastLines"] == log.splitlines()[-10:]
    assert result["lastLines"][-1] == "Adding run metadata for 499"


def test_parse_sample_log_of_another_image_keeps_its_last_lines():
    log = (DATA / "nvidia_smi_log.txt").read_text()

    result = parse_sample_log(log, tail=4)

    assert (result["accuracy"], result["step"]) == (None, None)
    assert result["lastLines"] == log.rstrip("\n").splitlines()[-4:]
    assert "No running processes found" in result["lastLines"][2]
    assert parse_sample_log(log, tail=0)["lastLines"] == []
    assert parse_sample_log("")["lastLines"] == []


MNIST_LOG = (DATA / "mnist_log.txt").read_text()
FAILURE_LOG = "Traceback (most recent call last):\nRuntimeError: CUDA error: no CUDA-capable device is detected\n"


def test_job_result_prefers_the_newest_succeeded_pod(kube, api):
    kube.put_job("default", "mnist", [{"type": "Complete", "status": "True"}])
    kube.put_pod(
        "default",
        "mnist-a",
        job="mnist",
        phase="Succeeded",
        created="2026-01-12T09:00:00Z",
        log="Accuracy at step 10: 0.5\n",
    )
    kube.put_pod("default", "mnist-b", job="mnist", phase="Succeeded", created="2026-01-12T10:00:00Z", log=MNIST_LOG)
    kube.put_pod("default", "mnist-c", job="mnist", phase="Failed", created="2026-01-12T11:00:00Z", log=FAILURE_LOG)
    kube.put_pod("default", "other-x", job="other", phase="Succeeded", created="2026-01-12T12:00:00Z", log="")

    result = read_job_result(api, "default", "mnist", tail=2)

    assert result == {
        "status": "Complete",
        "pod": "mnist-b",
        "accuracy": 0.9494,
        "step": 490,
        "lastLines": ["Accuracy at step 490: 0.9494", "Adding run metadata for 499"],
    }


def test_job_result_of_a_failed_job_reads_the_newest_pod(kube, api):
    kube.put_job("gpu-test", "smi", [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])
    kube.put_pod("gpu-test", "smi-2", job="smi", phase="Failed", created="2026-01-12T10:05:00Z", log=FAILURE_LOG)
    kube.put_pod("gpu-test", "smi-1", job="smi", phase="Failed", created="2026-01-12T10:00:00Z", log="first try\n")

    result = read_job_result(api, "gpu-test", "smi")

    assert (result["status"], result["pod"], result["accuracy"]) == ("Failed", "smi-2", None)
    assert result["lastLines"] == FAILURE_LOG.splitlines()


def test_job_result_of_a_running_job_without_pods(kube, api):
    kube.put_job("default", "mnist", [{"type": "Complete", "status": "False"}])

    result = read_job_result(api, "default", "mnist")

    assert result == {"status": "Running", "pod": None, "accuracy": None, "step": None, "lastLines": []}


def test_job_result_errors(kube, api):
    with pytest.raises(VerificationError, match="Could not read Job default/missing: HTTP 404"):
        read_job_result(api, "default", "missing")
    kube.deny(403)
    with pytest.raises(ClusterAccessError, match="get on jobs in default"):
        read_job_result(api, "default", "missing")


# --- Command line --------------------------------------------------------------


@pytest.fixture
def kubeconfig_file(kube: KubeApiServer, tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(kube.kubeconfig())
    return str(path)


def test_cli_prints_the_report_and_exits_0(kube, kubeconfig_file, capsys):
    kube.put_nodes([gpu_node("aks-gpu-0"), gpu_node("aks-gpu-1")])

    code = main(["--kubeconfig", kubeconfig_file, "--expected-gpus", "2", "--timeout", "15"])

    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["verifiedGpus"] == 2
    assert [n["name"] for n in json.loads(out)["nodes"]] == ["aks-gpu-0", "aks-gpu-1"]
    assert "2/2 nvidia.com/gpu allocatable on 2 usable of 2 node(s)" in err


def test_cli_exits_1_with_the_reason_when_gpus_fall_short(kube, kubeconfig_file, capsys):
    kube.put_node(gpu_node("aks-gpu-0", labels={"pool": "gpu"}))

    code = main(["--kubeconfig", kubeconfig_file, "--expected-gpus", "2", "--timeout", "1", "--selector", "pool=gpu"])

    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out) == {
        "resource": "nvidia.com/gpu",
        "expectedGpus": 2,
        "verifiedGpus": 1,
        "nodes": [
            {
                "name": "aks-gpu-0",
                "capacity": 1,
                "allocatable": 1,
                "gpuProduct": "NVIDIA T4 16 GB",
                "vmSize": "Standard_NC4as_T4_v3",
                "ready": True,
                "schedulable": True,
                "notUsableBecause": [],
            }
        ],
    }
    assert "Timed out after 1s" in err
    assert "aks-gpu-0 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 1, allocatable 1" in err


@pytest.mark.parametrize(("status", "reason"), [(401, "HTTP 401 Unauthorized"), (403, "HTTP 403 Forbidden")])
def test_cli_exits_2_when_the_cluster_refuses_access(kube, kubeconfig_file, capsys, status, reason):
    kube.deny(status)

    code = main(["--kubeconfig", kubeconfig_file, "--expected-gpus", "1", "--timeout", "30"])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert reason in err
    assert kube.count() == 1  # at once, no retry


def test_cli_exits_1_when_the_api_server_refuses_for_another_reason(kube, kubeconfig_file, capsys):
    kube.fail_next(1, 400)

    code = main(["--kubeconfig", kubeconfig_file, "--expected-gpus", "1", "--timeout", "30"])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert "refused to list nodes" in err and "HTTP 400" in err


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--expected-gpus", "1"], "--kubeconfig"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "-1"], "0 or more"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "two"], "0 or more"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "1", "--timeout", "-5"], "positive"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "1", "--timeout", "nan"], "positive"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "1", "--selector", "gpu in (a,b)"], "LABEL=VALUE"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "1", "--selector", "=nvidia"], "LABEL=VALUE"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "1", "--resource", "gpu"], "extended resource"),
        (["--kubeconfig", "{kubeconfig}", "--expected-gpus", "1", "--resource", "nvidia.com/"], "extended resource"),
        (["--kubeconfig", "{missing}", "--expected-gpus", "1"], "No such file"),
        (["--kubeconfig", "{broken}", "--expected-gpus", "1"], "not a YAML mapping"),
    ],
)
def test_cli_exits_2_for_bad_arguments(kube, kubeconfig_file, tmp_path, capsys, arguments, reason):
    broken = tmp_path / "broken"
    broken.write_text("- just\n- a list\n")
    paths = {"kubeconfig": kubeconfig_file, "missing": str(tmp_path / "nope"), "broken": str(broken)}

    code = main([argument.format(**paths) for argument in arguments])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert reason in err
    assert kube.count() == 0


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([str(Path(sys.executable).with_name("aks-gpu-verify"))], id="console-script"),
        pytest.param([sys.executable, "-m", "aks_gpu.verifier"], id="module"),
        pytest.param([sys.executable, "-m", "components.verify"], id="first-release-module"),
    ],
)
def test_cli_runs_from_any_folder(kube, kubeconfig_file, tmp_path, command):
    kube.put_node(gpu_node("aks-gpu-0"))

    completed = subprocess.run(
        [*command, "--kubeconfig", kubeconfig_file, "--expected-gpus", "1", "--timeout", "15"],
        # Outside the checkout, so only the installed package can be imported.
        cwd=tmp_path,
        env={**os.environ, "PYTHONSAFEPATH": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["verifiedGpus"] == 1
    assert "1/1 nvidia.com/gpu allocatable on 1 usable of 1 node(s)" in completed.stderr


def test_module_does_not_import_pulumi():
    # It runs inside a Pulumi dynamic provider and in pipelines without the SDK.
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, aks_gpu.verifier.cli, aks_gpu.verifier.job_result; "
            "print(sorted(m for m in sys.modules if m.startswith('pulumi')))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert completed.stdout.strip() == "[]"
