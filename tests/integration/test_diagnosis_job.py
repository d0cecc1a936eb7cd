"""Waiting for the workload Job: it ends on completion, on failure, or as soon as the cluster names a cause.

The acceptance image hitting the registry's pull limit, a MIG request the
autoscaler cannot scale up for, a pod the scheduler cannot place with no
autoscaler acting, pods that keep failing, the Job's own Failed condition;
and the slow-but-healthy cases (pulling, a scale-up under way, a node joining)
that run into the timeout instead.
"""

from __future__ import annotations

import threading

import pytest

from aks_gpu.verifier import api_client_from_kubeconfig
from aks_gpu.verifier.errors import ClusterAccessError, DiagnosedFault
from aks_gpu.verifier.job_wait import JobTimeoutError, wait_for_job
from tests.support.kube_api_server import KubeApiServer
from tests.support.kube_objects import event, job, job_pod, running, terminated, waiting

NS, JOB = "gpu-resources", "gpu-acceptance-x1"
FAULT_WAIT = 60  # seconds: only reached when the diagnosis is missing
SLOW_WAIT = 3  # seconds: the healthy-but-slow cases must run into this
MIG_SCHEDULER = "0/1 nodes are available: 1 Insufficient nvidia.com/mig-1g.10gb. preemption: 0/1 nodes are available"
MIG_AUTOSCALER = "pod didn't trigger scale-up: 1 Insufficient nvidia.com/mig-1g.10gb"


@pytest.fixture
def kube():
    with KubeApiServer() as server:
        server.put_object("jobs", job(NS, JOB))
        yield server


def wait(server: KubeApiServer, timeout: float, **options):
    with api_client_from_kubeconfig(server.kubeconfig()) as api:
        return wait_for_job(api, NS, JOB, timeout, **options)


def test_a_completed_job_ends_the_wait(kube):
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-abc", phase="Running", status=running()))
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(done=wait(kube, FAULT_WAIT)))
    thread.start()
    kube.wait_for_watch(1, collection="jobs")
    kube.put_object("jobs", job(NS, JOB, [{"type": "Complete", "status": "True"}]))
    thread.join(FAULT_WAIT + 10)

    assert outcome["done"].name == JOB


def test_the_acceptance_image_at_the_pull_limit_is_named(kube):
    name = f"{JOB}-0-abc"
    kube.put_object("pods", job_pod(NS, JOB, name, status=waiting("ImagePullBackOff", "Back-off pulling image")))
    message = (
        'Failed to pull image "nvcr.io/nvidia/pytorch:24.05-py3": failed to pull and unpack image: '
        "toomanyrequests: You have reached your pull rate limit. 429 Too Many Requests"
    )
    kube.put_object("events", event(NS, name, "Failed", message))

    with pytest.raises(DiagnosedFault) as raised:
        wait(kube, FAULT_WAIT)

    assert f"workload pod {NS}/{name}" in str(raised.value)
    assert "429 Too Many Requests" in str(raised.value)
    assert "pull rate limit is reached" in str(raised.value)


def test_a_mig_request_the_autoscaler_cannot_scale_up_for_is_named(kube):
    name = f"{JOB}-0-mig"
    kube.put_object("pods", job_pod(NS, JOB, name, unschedulable=MIG_SCHEDULER))
    kube.put_object("events", event(NS, name, "FailedScheduling", MIG_SCHEDULER, component="default-scheduler"))
    kube.put_object(
        "events",
        event(NS, name, "NotTriggerScaleUp", MIG_AUTOSCALER, component="cluster-autoscaler", event_type="Normal"),
    )

    with pytest.raises(DiagnosedFault) as raised:
        wait(kube, FAULT_WAIT)

    message = str(raised.value)
    assert "did not make the cluster autoscaler add a node" in message
    assert f"NotTriggerScaleUp (cluster-autoscaler): {MIG_AUTOSCALER}" in message
    assert "template node" in message  # the known cause: scale from zero offers no MIG resources
    assert raised.value.diagnosis.kind == "no-scale-up"


def test_an_old_no_scale_up_for_a_pod_now_scheduled_does_not_end_the_wait(kube):
    name = f"{JOB}-0-old"
    kube.put_object("events", event(NS, name, "NotTriggerScaleUp", MIG_AUTOSCALER, component="cluster-autoscaler"))
    kube.put_object("pods", job_pod(NS, JOB, name, phase="Running", status=running()))

    with pytest.raises(JobTimeoutError) as raised:
        wait(kube, SLOW_WAIT)

    assert "1 Running" in str(raised.value)


def test_a_pod_the_scheduler_refuses_with_no_autoscaler_answer_is_named_after_the_grace(kube):
    reason = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-big", unschedulable=reason))

    with pytest.raises(DiagnosedFault) as raised:
        wait(kube, FAULT_WAIT, scheduling_grace=1.0)

    assert "cannot be scheduled" in str(raised.value)
    assert reason in str(raised.value)
    assert "as many free GPUs" in str(raised.value)


@pytest.mark.parametrize(
    "answer",
    ["scale-up", "joining-node"],
)
def test_a_pod_waiting_for_a_node_is_only_slow(kube, answer):
    name = f"{JOB}-0-wait"
    if answer == "scale-up":
        reason = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
        kube.put_object("events", event(NS, name, "TriggeredScaleUp", "pod triggered scale-up: [{gpu 0->1 (max: 2)}]"))
    else:
        reason = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    kube.put_object("pods", job_pod(NS, JOB, name, unschedulable=reason))

    with pytest.raises(JobTimeoutError) as raised:
        wait(kube, SLOW_WAIT, scheduling_grace=0.5)

    assert "1 Pending" in str(raised.value)


@pytest.mark.parametrize(
    "status", [waiting("ContainerCreating"), waiting("CrashLoopBackOff", "back-off 10s", 1, 1)], ids=["pull", "one"]
)
def test_a_workload_that_is_only_slow_runs_into_the_timeout(kube, status):
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-slow", status=status))

    with pytest.raises(JobTimeoutError) as raised:
        wait(kube, SLOW_WAIT)

    assert "Nothing definitive was diagnosed" in str(raised.value)


def test_job_pods_that_keep_failing_are_named_with_the_last_ones_log(kube):
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", phase="Failed", status=terminated(1)))
    kube.set_log(NS, f"{JOB}-0-a", "first failure\n")
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-b", phase="Failed", status=terminated(1)))
    kube.set_log(
        NS, f"{JOB}-0-b", "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )

    with pytest.raises(DiagnosedFault) as raised:
        wait(kube, FAULT_WAIT)

    message = str(raised.value)
    assert "2 failed pods of the Job" in message
    assert "no kernel image is available" in message
    assert "compute capability" in message


def test_one_failed_pod_is_only_a_retry(kube):
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", phase="Failed", status=terminated(1)))
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-b", phase="Running", status=running()))

    with pytest.raises(JobTimeoutError):
        wait(kube, SLOW_WAIT)


def test_a_failed_job_is_named_with_its_reason_and_its_last_pods_log(kube):
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", phase="Failed", status=terminated(2)))
    kube.set_log(NS, f"{JOB}-0-a", "python3: can't open file '/scripts/gpu_acceptance.py'\n")
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
    }
    kube.put_object("jobs", job(NS, JOB, [failed]))

    with pytest.raises(DiagnosedFault) as raised:
        wait(kube, FAULT_WAIT)

    message = str(raised.value)
    assert f"Job {NS}/{JOB} failed" in message
    assert "BackoffLimitExceeded: Job has reached the specified backoff limit" in message
    assert "can't open file" in message


def test_a_job_that_never_appears_times_out_saying_so():
    with KubeApiServer() as server, pytest.raises(JobTimeoutError) as raised:
        wait(server, SLOW_WAIT)

    assert "was never seen" in str(raised.value)


def test_a_job_it_may_not_read_is_an_access_error(kube):
    kube.fail_next(3, status=403, path=f"/apis/batch/v1/namespaces/{NS}/jobs")

    with pytest.raises(ClusterAccessError, match="cannot read jobs in gpu-resources"):
        wait(kube, FAULT_WAIT)


def test_a_failed_job_seen_before_its_pods_still_quotes_the_last_pods_log(kube):
    # The pods' watch is refused once (it then stops): only the Job's Failed condition arrives by watch.
    kube.fail_next(1, status=403, path=f"/api/v1/namespaces/{NS}/pods")
    kube.put_object("pods", job_pod(NS, JOB, f"{JOB}-0-a", phase="Failed", status=terminated(2)))
    kube.set_log(NS, f"{JOB}-0-a", "ModuleNotFoundError: No module named 'torch'\n")
    failed = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff limit"}
    kube.put_object("jobs", job(NS, JOB, [failed]))

    with pytest.raises(DiagnosedFault) as raised:
        wait(kube, FAULT_WAIT)

    assert "BackoffLimitExceeded" in str(raised.value)
    assert "No module named 'torch'" in str(raised.value)
