"""Only GPUs a pod can use count: Ready, schedulable nodes without node-lifecycle taints.

Each test runs over HTTP and over HTTPS (client certificate, inline CA) against
tests/support/kube_api_server.py, with the real `kubernetes` client.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from aks_gpu.verifier import GpuTimeoutError, wait_for_gpus
from aks_gpu.verifier.cli import main
from tests.support.kube_api_server import gpu_node, lifecycle_taints

RESULT = 15  # seconds a test waits for a background check; never reached when green

# name -> (node options, ready, schedulable, reasons the report gives)
STATES = {
    "not-ready": (
        {"ready": "False", "taints": lifecycle_taints("not-ready")},
        False,
        False,
        [
            "Ready is False (KubeletNotReady: test node is KubeletNotReady)",
            "taint node.kubernetes.io/not-ready:NoSchedule",
            "taint node.kubernetes.io/not-ready:NoExecute",
        ],
    ),
    "not-ready-before-its-taint": (
        {"ready": "False"},
        False,
        True,
        ["Ready is False (KubeletNotReady: test node is KubeletNotReady)"],
    ),
    "unknown-unreachable": (
        {"ready": "Unknown", "taints": lifecycle_taints("unreachable")},
        False,
        False,
        [
            "Ready is unknown (NodeStatusUnknown: test node is NodeStatusUnknown)",
            "taint node.kubernetes.io/unreachable:NoSchedule",
            "taint node.kubernetes.io/unreachable:NoExecute",
        ],
    ),
    "cordoned": (
        {"unschedulable": True, "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
        True,
        False,
        ["cordoned (spec.unschedulable)", "taint node.kubernetes.io/unschedulable:NoSchedule"],
    ),
    "ready-but-still-tainted": (
        {"taints": lifecycle_taints("not-ready")[:1]},
        True,
        False,
        ["taint node.kubernetes.io/not-ready:NoSchedule"],
    ),
    "memory-pressure": (
        {"taints": [{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}]},
        True,
        False,
        ["taint node.kubernetes.io/memory-pressure:NoSchedule"],
    ),
    "no-conditions-yet": ({"ready": None}, False, True, ["no Ready condition yet"]),
}


@pytest.mark.parametrize("state", STATES)
def test_unusable_nodes_are_reported_but_not_counted(served, served_api, state):
    options, ready, schedulable, reasons = STATES[state]
    served.put_nodes([gpu_node("aks-gpu-0"), gpu_node("aks-gpu-1", capacity=2, **options)])

    # Expecting 0 returns after the list: what was counted shows without waiting.
    report = wait_for_gpus(served_api, expected=0, timeout=RESULT)

    assert report.verified == 1
    assert [node.usable for node in report.nodes] == [True, False]
    entry = report.to_dict()["nodes"][1]
    assert (entry["ready"], entry["schedulable"], entry["notUsableBecause"]) == (ready, schedulable, reasons)
    assert entry["allocatable"] == 2  # advertised, just not usable


def test_a_preferred_taint_or_a_workload_taint_does_not_make_a_node_unusable(served, served_api):
    taints = [
        {"key": "node.kubernetes.io/memory-pressure", "effect": "PreferNoSchedule"},
        {"key": "sku", "value": "gpu", "effect": "NoSchedule"},  # the GPU workloads tolerate it
    ]
    served.put_node(gpu_node("aks-gpu-0", taints=taints))

    report = wait_for_gpus(served_api, expected=1, timeout=RESULT)

    assert report.verified == 1
    assert report.to_dict()["nodes"][0]["notUsableBecause"] == []


def test_timeout_names_the_nodes_left_out_and_why(served, served_kubeconfig, capsys):
    served.put_nodes(
        [
            gpu_node("aks-gpu-0"),
            gpu_node("aks-gpu-1", ready="Unknown", taints=lifecycle_taints("unreachable")),
            gpu_node("aks-gpu-2", unschedulable=True),
        ]
    )

    code = main(["--kubeconfig", served_kubeconfig, "--expected-gpus", "3", "--timeout", "1"])

    out, err = capsys.readouterr()
    assert code == 1
    report = json.loads(out)
    assert report["verifiedGpus"] == 1
    assert [(n["name"], n["ready"], n["schedulable"]) for n in report["nodes"]] == [
        ("aks-gpu-0", True, True),
        ("aks-gpu-1", False, False),
        ("aks-gpu-2", True, False),
    ]
    assert "waiting for 3 allocatable nvidia.com/gpu on usable nodes: 1 verified." in err
    assert "Left out, not ready or not schedulable (2 of 3 GPU node(s)):" in err
    assert (
        "  aks-gpu-1 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 1, allocatable 1; "
        "Ready is unknown (NodeStatusUnknown: test node is NodeStatusUnknown); "
        "taint node.kubernetes.io/unreachable:NoSchedule; taint node.kubernetes.io/unreachable:NoExecute"
    ) in err
    assert "  aks-gpu-2 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 1, allocatable 1; cordoned" in err
    assert "GPU nodes counted (matching kubernetes.azure.com/accelerator=nvidia)" in err


def test_a_flapping_node_counts_only_once_it_is_ready(served, served_api):
    served.put_nodes([gpu_node("aks-gpu-0"), gpu_node("aks-gpu-1", allocatable=0)])
    not_ready = {"ready": "False", "taints": lifecycle_taints("not-ready")}
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(wait_for_gpus, served_api, 2, RESULT)
        served.wait_for_watch()
        # The device plugin registers while the node flaps: GPUs allocatable, node NotReady.
        served.put_node(gpu_node("aks-gpu-1", **not_ready))
        served.put_node(gpu_node("aks-gpu-1"))  # Ready for a moment ...
        served.put_node(gpu_node("aks-gpu-1", **not_ready))  # ... and NotReady again
        served.put_node(gpu_node("aks-gpu-1", ready="Unknown", taints=lifecycle_taints("unreachable")))
        report = result.result(RESULT)

    # The wait ended on the one Ready event, never on a NotReady one.
    assert report.verified == 2
    assert report.to_dict()["nodes"][1]["ready"] is True
    assert served.count(watch=True) == 1


def test_a_node_going_not_ready_stops_counting_until_it_is_ready_again(served, served_api):
    served.put_nodes([gpu_node("aks-gpu-0"), gpu_node("aks-gpu-1", allocatable=0)])
    progress: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(wait_for_gpus, served_api, 2, RESULT, progress=progress.append)
        served.wait_for_watch()
        served.put_node(gpu_node("aks-gpu-0", ready="False"))  # 0 usable GPUs now
        served.put_node(gpu_node("aks-gpu-1"))  # 1 of 2
        served.put_node(gpu_node("aks-gpu-0"))  # 2 of 2
        report = result.result(RESULT)

    assert report.verified == 2
    assert [line.split(" ", 1)[0] for line in progress if "allocatable on" in line] == ["1/2", "0/2", "1/2", "2/2"]


def test_mixed_mig_slices_are_counted_with_resource(served, served_kubeconfig, capsys):
    mig = "nvidia.com/mig-1g.10gb"
    served.put_nodes(
        [gpu_node(f"aks-gpu-{i}", capacity=7, resource=mig, vm_size="Standard_NC24ads_A100_v4") for i in range(2)]
    )
    arguments = ["--kubeconfig", served_kubeconfig, "--timeout", "10"]

    code = main([*arguments, "--expected-gpus", "14", "--resource", mig])
    out, err = capsys.readouterr()

    assert code == 0, err
    report = json.loads(out)
    assert (report["resource"], report["verifiedGpus"]) == (mig, 14)
    assert report["nodes"][0]["gpuProduct"] == "NVIDIA A100 80 GB PCIe"
    assert f"14/14 {mig} allocatable on 2 usable of 2 node(s)" in err
    # The mixed strategy advertises no nvidia.com/gpu: the default resource finds none.
    assert main([*arguments, "--expected-gpus", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["verifiedGpus"] == 0


def test_malformed_quantities_count_zero_with_a_reason(served, served_api):
    node = gpu_node("aks-gpu-0", capacity=2)
    node["status"]["allocatable"]["nvidia.com/gpu"] = "two"
    served.put_nodes([node, gpu_node("aks-gpu-1", capacity=2, allocatable=1)])
    served.put_node(gpu_node("aks-gpu-2", allocatable=0))

    with pytest.raises(GpuTimeoutError) as caught:
        wait_for_gpus(served_api, expected=3, timeout=1)

    assert caught.value.report.verified == 1
    entry = caught.value.report.to_dict()["nodes"][0]
    assert (entry["capacity"], entry["allocatable"]) == (2, 0)
    assert entry["notUsableBecause"] == ["allocatable nvidia.com/gpu is not a quantity: 'two'"]


def test_thousands_of_nodes_short_of_gpus_give_a_bounded_message(served, served_api):
    short = [gpu_node(f"aks-gpu-{i:04d}", allocatable=0) for i in range(1000)]
    not_ready = [gpu_node(f"aks-gpu-{i:04d}", ready="False") for i in range(1000, 2000)]
    served.put_nodes([*short, *not_ready])

    with pytest.raises(GpuTimeoutError) as caught:
        wait_for_gpus(served_api, expected=2000, timeout=1.5)

    message = str(caught.value)
    assert len(caught.value.report.nodes) == 2000  # the report keeps every node
    assert len(message) < 6000
    assert len(message.splitlines()) < 60
    assert "Left out, not ready or not schedulable (1,000 of 2,000 GPU node(s)):" in message
    assert (
        "  aks-gpu-1000 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 1, allocatable 1; Ready is False" in message
    )
    assert "aks-gpu-1020" not in message  # the 21st node left out is only counted
    assert message.count("... and 980 more node(s) (the JSON report lists every node)") == 2
    assert "  aks-gpu-0000 (Standard_NC4as_T4_v3, NVIDIA T4 16 GB): capacity 1, allocatable 0" in message
