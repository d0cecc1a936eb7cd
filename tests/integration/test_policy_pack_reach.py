"""What the rule texts claim, through the pack booted as the Pulumi CLI boots it, over gRPC.

Each case adds one object to the program's dev stack and expects the booted
pack to refuse exactly it, at the mandatory level: a custom resource's pod
template on the GPU pool without a GPU, a decoy device-plugin container beside
a CPU container, the plugin's name from a registry other than its publishers',
and a cluster written as a generic ARM resource with a retired GPU size and
RBAC off.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy import rules
from tests.support.policy_server import booted_pack
from tests.support.policy_stack import (
    CLUSTER,
    DAEMONSET,
    DEPLOYMENT,
    GENERIC,
    GPU_TOLERATION,
    cpu_container,
    dev_stack,
    find,
    res,
    workload,
)

GPU_POD = {"tolerations": [GPU_TOLERATION], "containers": [cpu_container()]}


def custom(type_: str, spec: dict[str, Any]) -> rules.Resource:
    group_version, kind = type_.removeprefix("kubernetes:").rsplit(":", 1)
    return res(type_, "x", {"apiVersion": group_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec})


def lookalike_plugin() -> rules.Resource:
    plugin = find(dev_stack(), DAEMONSET)
    props = copy.deepcopy(dict(plugin.props))
    props["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/someone/k8s-device-plugin:v0.18.0"
    return res(DAEMONSET, "lookalike", props)


def generic_cluster() -> rules.Resource:
    typed = copy.deepcopy(dict(find(dev_stack(), CLUSTER).props))
    retired = {
        "name": "gpu",
        "mode": "User",
        "vmSize": "Standard_NC6",
        "count": 1,
        "nodeTaints": ["sku=gpu:NoSchedule"],
    }
    typed["agentPoolProfiles"] = [*typed["agentPoolProfiles"], retired]
    typed["enableRBAC"] = False
    envelope = {key: typed.pop(key) for key in ("location", "identity")}
    props = {
        "resourceProviderNamespace": "Microsoft.ContainerService",
        "resourceType": "managedClusters",
        "resourceName": "other",
        **envelope,
        "properties": typed,
    }
    return res(GENERIC, "other-cluster", props)


CASES = {
    "raycluster": (
        lambda: custom("kubernetes:ray.io/v1:RayCluster", {"workerGroupSpecs": [{"template": {"spec": GPU_POD}}]}),
        {"gpu-workloads-request-gpu"},
    ),
    "pytorchjob": (
        lambda: custom(
            "kubernetes:kubeflow.org/v1:PyTorchJob",
            {"pytorchReplicaSpecs": {"Worker": {"template": {"spec": GPU_POD}}}},
        ),
        {"gpu-workloads-request-gpu"},
    ),
    "jobset": (
        lambda: custom(
            "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet",
            {"replicatedJobs": [{"name": "w", "template": {"spec": {"template": {"spec": GPU_POD}}}}]},
        ),
        {"gpu-workloads-request-gpu"},
    ),
    "decoy-plugin-container": (
        lambda: workload(
            DEPLOYMENT,
            "decoy",
            {
                **GPU_POD,
                "containers": [
                    cpu_container(name="p", image="nvcr.io/nvidia/k8s-device-plugin:v0.18.0"),
                    cpu_container(),
                ],
            },
        ),
        {"gpu-workloads-request-gpu"},
    ),
    "lookalike-plugin-image": (lookalike_plugin, {"no-privileged-containers"}),
    "generic-arm-cluster": (generic_cluster, {"gpu-vm-size-not-retired", "cluster-rbac-and-managed-identity"}),
}


@pytest.fixture(scope="module")
def pack():
    with booted_pack() as client:
        yield client


def test_the_dev_stack_alone_passes(pack):
    assert pack.diagnostics(dev_stack()) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_booted_pack_refuses_it(pack, case):
    build, expected = CASES[case]
    added = build()
    diagnostics = pack.diagnostics([*dev_stack(), added])
    assert {(d.policy, d.urn) for d in diagnostics if d.level == rules.MANDATORY} == {(p, added.urn) for p in expected}
