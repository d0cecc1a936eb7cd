"""The diagnosis rules, one state at a time: what ends a wait, what is only slow, and at what cost per event."""

from __future__ import annotations

import pytest

from aks_gpu.facts.cluster_faults import LOG_SIGNATURES, PULL_SIGNATURES, SCHEDULING_SIGNATURES
from aks_gpu.verifier.cluster_state import EventView, PodView
from aks_gpu.verifier.diagnosis import (
    CRASH_RESTARTS,
    Diagnosis,
    EventsNeeded,
    LogNeeded,
    container_fault,
    explain_crash,
    job_fault,
    node_condition_fault,
    scale_up_fault,
    scheduling_fault,
)
from aks_gpu.verifier.tracker import Tracker, is_plugin_pod
from tests.support.kube_objects import event, gpu_node, job, job_pod, plugin_pod, running, terminated, waiting

NS = "gpu-resources"


def view(**options) -> PodView:
    return PodView.from_api(plugin_pod(NS, "nvidia-device-plugin-a", **options))


def test_a_second_restart_makes_a_crash_loop_and_asks_for_the_previous_log():
    found = container_fault(view(status=waiting("CrashLoopBackOff", "", CRASH_RESTARTS, 1)), "device-plugin")
    assert isinstance(found, LogNeeded)
    assert (found.pod, found.container, found.previous) == ("nvidia-device-plugin-a", "nvidia-device-plugin-ctr", True)


@pytest.mark.parametrize(
    "status",
    [
        waiting("ContainerCreating"),
        waiting("CrashLoopBackOff", "", 1, 1),
        running(restarts=5, last_exit=0),
        waiting("ErrImagePull", "rpc error: context deadline exceeded"),
    ],
    ids=["creating", "one-restart", "clean-restarts", "pull-blip"],
)
def test_what_is_only_slow_is_no_finding(status):
    assert container_fault(view(status=status), "device-plugin") is None


def test_image_pull_backoff_without_the_registrys_words_asks_for_the_events():
    found = container_fault(view(status=waiting("ImagePullBackOff", "Back-off pulling image")), "device-plugin")
    assert isinstance(found, EventsNeeded)


def test_err_image_pull_with_a_known_refusal_is_final_at_once():
    found = container_fault(view(status=waiting("ErrImagePull", "manifest unknown: tag v9")), "device-plugin")
    assert isinstance(found, Diagnosis)
    assert found.cause is not None and "does not exist" in found.cause


@pytest.mark.parametrize("signature", LOG_SIGNATURES, ids=lambda s: s.needle)
def test_every_log_signature_is_explained(signature):
    needed = LogNeeded(NS, "p", "c", True, Diagnosis("crash-loop", "pod p", "CrashLoopBackOff"))
    found = explain_crash(needed, f"line one\nE1202 error: {signature.needle.upper()} here\n")
    assert (found.cause, found.next_step) == (signature.cause, signature.next_step)
    assert found.log_tail[-1].endswith("here")


def test_first_match_wins_so_specific_signatures_come_first():
    for table in (LOG_SIGNATURES, PULL_SIGNATURES, SCHEDULING_SIGNATURES):
        needles = [s.needle.lower() for s in table]
        for i, needle in enumerate(needles):
            # An earlier needle inside a later one would always win over it.
            assert not any(needle in later for later in needles[i + 1 :]), needle


def test_scheduling_waits_for_its_grace_and_for_no_autoscaler_answer():
    pod = PodView.from_api(
        job_pod(NS, "j", "j-0", unschedulable="0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")
    )
    assert scheduling_fault(pod, 10, False) is None
    assert scheduling_fault(pod, 50, True) is None
    assert scheduling_fault(pod, 50, False) is not None
    joining = PodView.from_api(
        job_pod(NS, "j", "j-1", unschedulable="1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
    )
    assert scheduling_fault(joining, 500, False) is None


def test_no_scale_up_quotes_the_autoscaler():
    found = scale_up_fault(
        EventView.from_api(
            event(NS, "j-0", "NotTriggerScaleUp", "max node group size reached", component="cluster-autoscaler")
        )
    )
    assert found is not None and "at its maximum node count" in (found.cause or "")
    assert scale_up_fault(EventView.from_api(event(NS, "j-0", "TriggeredScaleUp", "pod triggered scale-up"))) is None


def test_only_gpu_problem_conditions_count():
    assert node_condition_fault(gpu_node("n", ready="False")) is None
    gpu_missing = {"type": "GPUMissing", "status": "True", "reason": "GPUMissing"}
    assert node_condition_fault(gpu_node("n", conditions=[{**gpu_missing, "status": "False"}])) is None
    assert node_condition_fault(gpu_node("n", conditions=[gpu_missing])) is not None


def test_a_failed_job_is_final():
    assert job_fault(job(NS, "j", [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}])) is not None
    assert job_fault(job(NS, "j", [{"type": "Complete", "status": "True"}])) is None


def test_plugin_pods_are_known_by_name_or_image():
    assert is_plugin_pod(plugin_pod("kube-system", "anything"))
    assert is_plugin_pod(plugin_pod("kube-system", "nvidia-device-plugin-x") | {"spec": {}})
    assert not is_plugin_pod(job_pod("kube-system", "j", "coredns-1"))


class CountingDict(dict):
    """A dict that counts whole-state walks (the running totals must make them unnecessary)."""

    walks = 0

    def __iter__(self):
        CountingDict.walks += 1
        return super().__iter__()

    def values(self):
        CountingDict.walks += 1
        return super().values()

    def items(self):
        CountingDict.walks += 1
        return super().items()


def test_each_change_and_the_progress_line_cost_the_same_at_any_number_of_pods():
    tracker = Tracker()
    tracker._pods = CountingDict()
    for i in range(3000):
        tracker.pod(
            "ADDED",
            plugin_pod(NS, f"nvidia-device-plugin-{i}", phase="Running", status=running()),
            "device-plugin",
            0.0,
        )
        tracker.pod("MODIFIED", job_pod(NS, "j", f"j-{i}", phase="Succeeded", status=terminated(0)), "workload", 0.0)
        tracker.event(event(NS, f"j-{i}", "Pulled", "Successfully pulled image"))
    summary = tracker.summary()
    tracker.due(1.0)
    assert CountingDict.walks == 0
    assert summary == "3000/3000 device plugin pod(s) ready; workload pods: 3000 Succeeded"
