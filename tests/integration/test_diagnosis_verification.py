"""The GPU verification ends as soon as the cluster names a cause, and never on what is only slow.

Against the test API server: the device plugin's pods and events in the
stack's namespace (or kube-system), the GPU nodes' conditions. A fault ends the
wait with DiagnosedFault naming the object and quoting the cluster; the
slow-but-healthy states run into the (short) timeout instead.
"""

from __future__ import annotations

import threading

import pytest

from aks_gpu.verifier import GpuTimeoutError, api_client_from_kubeconfig, wait_for_gpus
from aks_gpu.verifier.errors import DiagnosedFault
from tests.support.kube_api_server import KubeApiServer
from tests.support.kube_objects import event, gpu_node, plugin_pod, running, waiting

NS = "gpu-resources"
FAULT_WAIT = 60  # seconds: only reached when the diagnosis is missing
SLOW_WAIT = 3  # seconds: the healthy-but-slow cases must run into this
NVML_LOG = (
    "I1202 10:00:00.000000       1 main.go:235] Starting NVIDIA Device Plugin\n"
    "E1202 10:00:00.100000       1 factory.go:115] Failed to initialize NVML: Driver/library version mismatch\n"
    "E1202 10:00:00.100001       1 main.go:132] error starting plugins: error creating plugin manager\n"
)


@pytest.fixture
def kube():
    with KubeApiServer() as server:
        yield server


def verify(server: KubeApiServer, timeout: float, namespace: str = NS, progress=None):
    with api_client_from_kubeconfig(server.kubeconfig()) as api:
        return wait_for_gpus(api, 1, timeout, plugin_namespace=namespace, progress=progress)


def crash_looping(name: str = "nvidia-device-plugin-x7k2p", restarts: int = 3) -> dict:
    return plugin_pod(NS, name, phase="Running", status=waiting("CrashLoopBackOff", "back-off 40s", restarts, 1))


def test_a_crash_looping_plugin_is_named_with_its_previous_log_and_known_cause(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    kube.put_object("pods", crash_looping())
    kube.set_log(NS, "nvidia-device-plugin-x7k2p", NVML_LOG, previous=True)
    kube.set_log(NS, "nvidia-device-plugin-x7k2p", "I1202 starting again\n")  # the current instance's

    with pytest.raises(DiagnosedFault) as raised:
        verify(kube, FAULT_WAIT)

    message = str(raised.value)
    assert "device plugin pod gpu-resources/nvidia-device-plugin-x7k2p on node aks-gpu-0" in message
    assert "keeps crashing" in message
    assert "CrashLoopBackOff, 3 restarts, last exit code 1" in message
    assert "Failed to initialize NVML: Driver/library version mismatch" in message  # the previous log
    assert "starting again" not in message
    assert "kernel module and its user-space driver library" in message  # the known signature
    assert "0/1 nvidia.com/gpu allocatable" in message
    assert raised.value.diagnosis.kind == "crash-loop"
    log_requests = [r for r in kube.requests if r.path.endswith("/log")]
    assert [r.query.get("previous") for r in log_requests] == ["true"]


def test_a_crash_that_starts_during_the_wait_ends_it(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    kube.put_object("pods", plugin_pod(NS, "nvidia-device-plugin-a", status=waiting("ContainerCreating")))
    kube.set_log(NS, "nvidia-device-plugin-a", "No devices found. Waiting indefinitely.\n", previous=True)
    outcome: dict = {}

    def run():
        try:
            verify(kube, FAULT_WAIT)
        except Exception as error:  # noqa: BLE001 - the test reads it
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    kube.wait_for_watch(1, collection="pods")
    kube.put_object("pods", crash_looping("nvidia-device-plugin-a", restarts=2))
    thread.join(FAULT_WAIT + 10)

    error = outcome["error"]
    assert isinstance(error, DiagnosedFault)
    assert "No devices found" in str(error)
    assert "sees no GPU" in str(error)


def test_the_managed_plugin_in_kube_system_is_watched_and_other_pods_are_not(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    other = {"status": waiting("CrashLoopBackOff", "", 5, 1)}
    kube.put_object("pods", plugin_pod("kube-system", "coredns-abc", **other) | {"spec": {"containers": []}})
    kube.put_object("pods", plugin_pod("kube-system", "nvidia-device-plugin-daemonset-q", **other))
    kube.set_log("kube-system", "nvidia-device-plugin-daemonset-q", "plain crash\n", previous=True)

    with pytest.raises(DiagnosedFault) as raised:
        verify(kube, FAULT_WAIT, namespace="kube-system")

    assert "kube-system/nvidia-device-plugin-daemonset-q" in str(raised.value)
    assert "plain crash" in str(raised.value)
    assert "Known cause" not in str(raised.value)  # an unknown log is quoted, not explained
    assert "kubectl logs --previous -n kube-system nvidia-device-plugin-daemonset-q" in str(raised.value)


def test_a_rate_limited_plugin_image_is_named_with_the_registrys_message(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    name = "nvidia-device-plugin-p"
    kube.put_object("pods", plugin_pod(NS, name, status=waiting("ImagePullBackOff", 'Back-off pulling image "x"')))
    registry = (
        'Failed to pull image "nvcr.io/nvidia/k8s-device-plugin:v0.18.0": failed to pull and unpack image: '
        "unexpected status from HEAD request: 429 Too Many Requests"
    )
    kube.put_object("events", event(NS, name, "Failed", registry))

    with pytest.raises(DiagnosedFault) as raised:
        verify(kube, FAULT_WAIT)

    assert "cannot pull its image" in str(raised.value)
    assert "429 Too Many Requests" in str(raised.value)
    assert "pull rate limit" in str(raised.value)


def test_a_true_gpu_node_condition_ends_the_wait(kube):
    xid = {"type": "XIDErrors", "status": "True", "reason": "XIDErrorsDetected", "message": "Xid 79 on GPU 0"}
    kube.put_node(gpu_node("aks-gpu-0", capacity=0, conditions=[xid]))

    with pytest.raises(DiagnosedFault) as raised:
        verify(kube, FAULT_WAIT)

    assert "GPU node aks-gpu-0 reports a GPU problem" in str(raised.value)
    assert "condition XIDErrors is True: XIDErrorsDetected: Xid 79 on GPU 0" in str(raised.value)


@pytest.mark.parametrize(
    "status",
    [
        waiting("ContainerCreating"),
        waiting("ErrImagePull", "rpc error: code = Unknown desc = context deadline exceeded"),
        waiting("CrashLoopBackOff", "back-off 10s", restarts=1, last_exit=1),
        running(restarts=1, last_exit=1),
    ],
    ids=["creating", "first-pull-error", "one-restart", "running-after-one-restart"],
)
def test_a_plugin_that_is_only_slow_never_ends_the_wait(kube, status):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    kube.put_object("pods", plugin_pod(NS, "nvidia-device-plugin-s", status=status))

    with pytest.raises(GpuTimeoutError) as raised:
        verify(kube, SLOW_WAIT)

    assert not isinstance(raised.value, DiagnosedFault)


def test_a_node_still_joining_never_ends_the_wait(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0, ready="False"))

    with pytest.raises(GpuTimeoutError) as raised:
        verify(kube, SLOW_WAIT)

    assert not isinstance(raised.value, DiagnosedFault)


def test_a_slow_plugin_that_comes_up_ends_in_success(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    kube.put_object("pods", plugin_pod(NS, "nvidia-device-plugin-s", status=waiting("ContainerCreating")))
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(report=verify(kube, FAULT_WAIT)))
    thread.start()
    kube.wait_for_watch(1)
    kube.put_object("pods", plugin_pod(NS, "nvidia-device-plugin-s", phase="Running", status=running()))
    kube.put_node(gpu_node("aks-gpu-0", capacity=1))
    thread.join(FAULT_WAIT + 10)

    assert result["report"].verified == 1


def test_progress_names_the_elapsed_time_and_what_is_awaited(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    kube.put_object("pods", plugin_pod(NS, "nvidia-device-plugin-s", phase="Running", status=running()))
    lines: list[str] = []
    with api_client_from_kubeconfig(kube.kubeconfig()) as api, pytest.raises(GpuTimeoutError):
        wait_for_gpus(api, 1, 3.5, plugin_namespace=NS, progress=lines.append, progress_every=1.0)

    ticks = [line for line in lines if "elapsed:" in line]
    assert ticks, lines
    assert "0/1 nvidia.com/gpu allocatable on 1 usable of 1 GPU node(s)" in ticks[-1]
    assert "1/1 device plugin pod(s) ready" in ticks[-1]


def test_a_plugin_namespace_it_may_not_read_narrows_the_diagnosis_only(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=1))
    kube.fail_next(5, status=403, path=f"/api/v1/namespaces/{NS}/pods")
    lines: list[str] = []

    report = verify(kube, FAULT_WAIT, progress=lines.append)

    assert report.verified == 1


def test_a_gpu_node_condition_that_turns_true_during_the_wait_ends_it(kube):
    kube.put_node(gpu_node("aks-gpu-0", capacity=0))
    outcome: dict = {}

    def run():
        try:
            verify(kube, FAULT_WAIT)
        except Exception as error:  # noqa: BLE001 - the test reads it
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    kube.wait_for_watch(1)
    missing = {"type": "GPUMissing", "status": "True", "reason": "GPUMissing", "message": "expected 8 GPUs, found 7"}
    kube.put_node(gpu_node("aks-gpu-0", capacity=0, conditions=[missing]))
    thread.join(FAULT_WAIT + 10)

    assert isinstance(outcome["error"], DiagnosedFault)
    assert "condition GPUMissing is True: GPUMissing: expected 8 GPUs, found 7" in str(outcome["error"])


def test_the_diagnosis_watches_work_over_https_with_a_client_certificate(served):
    # `served`: HTTP, and HTTPS with an inline CA and client certificate (the watch threads share one client).
    served.put_node(gpu_node("aks-gpu-0", capacity=0))
    served.put_object("pods", crash_looping())
    served.set_log(NS, "nvidia-device-plugin-x7k2p", NVML_LOG, previous=True)

    with pytest.raises(DiagnosedFault, match="Driver/library version mismatch"):
        verify(served, FAULT_WAIT)
