"""The policy pack (policy/): every rule passing and failing, and the wiring into pulumi-policy.

Rules are plain functions (policy/rules.py), so most tests call them with
resources shaped the way the engine hands them to a policy pack: camelCase
properties, Kubernetes objects as dicts, secrets marked. The last sections drive
pulumi-policy's own analyzer service, in process and as the CLI starts it, so
the adapter in policy/__main__.py is tested against the real SDK too.
"""

from __future__ import annotations

import copy
import importlib
import os
import queue
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Secret
from pulumi_policy.policy import _PolicyAnalyzerServicer

from aks_gpu.facts import azure, device_plugin, vm_sizes
from aks_gpu.facts.kubernetes import SPOT_TAINT
from policy import rules
from policy.rules import Resource
from tests.support.harness import run_program

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 29)

CLUSTER = rules.MANAGED_CLUSTER
AGENT_POOL = rules.AGENT_POOL
GENERIC = rules.GENERIC_RESOURCE
PROVIDER = rules.K8S_PROVIDER
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
POD = "kubernetes:core/v1:Pod"
NAMESPACE = "kubernetes:core/v1:Namespace"

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster: {server: "https://aks.example.invalid:443"}
users:
- name: clusterUser
  user: {token: not-a-real-token}
contexts:
- name: aks
  context: {cluster: aks, user: clusterUser}
current-context: aks
"""

# pulumi-policy's wire forms (what the engine sends over gRPC).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::aks-gpu::{type_}::{name}"


def res(type_: str, name: str, props: dict[str, Any]) -> Resource:
    return Resource(type=type_, props=props, urn=urn(type_, name), name=name)


# --- The dev stack, by hand ----------------------------------------------------------------


def gpu_affinity(pool: str = "gpu") -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.azure.com/agentpool", "operator": "In", "values": [pool]},
                            {"key": "kubernetes.azure.com/accelerator", "operator": "In", "values": ["nvidia"]},
                        ]
                    }
                ]
            }
        }
    }


GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


def dev_stack_resources(gpu_stack: str = "device-plugin") -> list[Resource]:
    """What the program registers for the dev stack (Pulumi.dev.yaml), as the engine passes
    resource inputs to a policy pack. `gpu_stack="managed"` is the same stack with
    `aks-gpu:gpuStack: managed`: a generic ARM agent pool and no device plugin DaemonSet.

    Built by hand from the program's shapes. tests/harness.run_program() records the
    same thing from the real program under the mock engine; swap this body for
    `[Resource(r.type, r.inputs, r.urn, r.name) for r in run_program(...).resources]`
    when that is the preferred source (test_the_programs_own_stacks_pass_every_rule
    already runs the rules over it).
    """
    pool = {
        "mode": "User",
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
        "vmSize": "Standard_NC4as_T4_v3",
        "nodeTaints": ["sku=gpu:NoSchedule"],
        "nodeLabels": {},
        "gpuProfile": {"driver": "Install"},
        "enableAutoScaling": False,
        "count": 1,
    }
    stack = [
        res(
            "azure-native:resources:ResourceGroup",
            "resource-group",
            {"resourceGroupName": "myResourceGroup", "location": "eastus"},
        ),
        res(
            CLUSTER,
            "cluster",
            {
                "resourceGroupName": "myResourceGroup",
                "resourceName": "myAKSCluster",
                "location": "eastus",
                "dnsPrefix": "myAKSCluster",
                "enableRBAC": True,
                "identity": {"type": "SystemAssigned"},
                "agentPoolProfiles": [
                    {
                        "name": "system",
                        "mode": "System",
                        "vmSize": "Standard_D4ds_v5",
                        "count": 1,
                        "osType": "Linux",
                        "type": "VirtualMachineScaleSets",
                    }
                ],
            },
        ),
    ]
    if gpu_stack == "managed":
        pool["gpuProfile"] = {"driver": "Install", "nvidia": {"managementMode": "Managed"}}
        stack.append(
            res(
                GENERIC,
                "gpu-pool",
                {
                    "apiVersion": azure.MANAGED_GPU_API_VERSION,
                    "resourceProviderNamespace": "Microsoft.ContainerService",
                    "parentResourcePath": "managedClusters/myAKSCluster",
                    "resourceType": "agentPools",
                    "resourceName": "gpu",
                    "resourceGroupName": "myResourceGroup",
                    "properties": pool,
                },
            )
        )
    else:
        stack.append(
            res(
                AGENT_POOL,
                "gpu-pool",
                {
                    "agentPoolName": "gpu",
                    "resourceGroupName": "myResourceGroup",
                    "resourceName": "myAKSCluster",
                    **pool,
                },
            )
        )
    stack += [
        res(PROVIDER, "aks", {"kubeconfig": Secret(KUBECONFIG), "version": "4.34.2"}),
        res(
            NAMESPACE,
            "gpu-namespace",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "gpu-resources", "labels": {"app.kubernetes.io/part-of": "aks-gpu"}},
            },
        ),
    ]
    if gpu_stack != "managed":
        labels = {"app.kubernetes.io/name": "nvidia-device-plugin", "app.kubernetes.io/part-of": "aks-gpu"}
        stack.append(
            res(
                DAEMONSET,
                "nvidia-device-plugin",
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "metadata": {"name": "nvidia-device-plugin", "namespace": "gpu-resources", "labels": labels},
                    "spec": {
                        "selector": {"matchLabels": {"app.kubernetes.io/name": "nvidia-device-plugin"}},
                        "updateStrategy": {"type": "RollingUpdate"},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "priorityClassName": "system-node-critical",
                                "affinity": gpu_affinity(),
                                "tolerations": [
                                    {"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                                    GPU_TOLERATION,
                                ],
                                "containers": [
                                    {
                                        "name": "nvidia-device-plugin-ctr",
                                        "image": "nvcr.io/nvidia/k8s-device-plugin:v0.18.0",
                                        "securityContext": {
                                            "allowPrivilegeEscalation": False,
                                            "capabilities": {"drop": ["ALL"]},
                                        },
                                        "volumeMounts": [
                                            {"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}
                                        ],
                                    }
                                ],
                                "volumes": [
                                    {"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}
                                ],
                            },
                        },
                    },
                },
            )
        )
    stack += [
        res(
            JOB,
            "samples-tf-mnist-demo",
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "namespace": "gpu-resources",
                    "labels": {"app": "samples-tf-mnist-demo", "app.kubernetes.io/part-of": "aks-gpu"},
                    "annotations": {"pulumi.com/timeoutSeconds": "1800"},
                },
                "spec": {
                    "backoffLimit": 4,
                    "template": {
                        "metadata": {"labels": {"app": "samples-tf-mnist-demo"}},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "affinity": gpu_affinity(),
                            "tolerations": [GPU_TOLERATION],
                            "containers": [
                                {
                                    "name": "samples-tf-mnist-demo",
                                    "image": "mcr.microsoft.com/azuredocs/samples-tf-mnist-demo:gpu",
                                    "args": ["--max_steps", "500"],
                                    "imagePullPolicy": "IfNotPresent",
                                    "resources": {"limits": {"nvidia.com/gpu": 1}},
                                    "securityContext": {"allowPrivilegeEscalation": False},
                                }
                            ],
                        },
                    },
                },
            },
        ),
        # The verification checks: dynamic resources no rule looks at, with a secret input.
        res(
            "pulumi-python:dynamic:Resource",
            "gpu-capacity",
            {"kubeconfig": Secret(KUBECONFIG), "expectedGpus": 1, "selector": "kubernetes.azure.com/agentpool=gpu"},
        ),
    ]
    return stack


def find(stack: list[Resource], type_: str) -> Resource:
    return next(r for r in stack if r.type == type_)


def replace(stack: list[Resource], old: Resource, props: dict[str, Any]) -> list[Resource]:
    return [Resource(r.type, props, r.urn, r.name) if r is old else r for r in stack]


def edited(resource: Resource, edit) -> dict[str, Any]:
    """A deep copy of the resource's props after `edit(props)`."""
    props = copy.deepcopy(dict(resource.props))
    edit(props)
    return props


def pod_spec_of(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


def workload(type_: str, name: str, pod_spec: dict[str, Any]) -> Resource:
    if type_ == POD:
        return res(type_, name, {"metadata": {"name": name}, "spec": pod_spec})
    return res(type_, name, {"metadata": {"name": name}, "spec": {"template": {"spec": pod_spec}}})


def cpu_container(**extra) -> dict[str, Any]:
    return {"name": "app", "image": "busybox", **extra}


# --- The program's own stacks pass every rule --------------------------------------------------


@pytest.mark.parametrize("gpu_stack", ["device-plugin", "managed"])
def test_the_dev_stack_passes_every_rule(gpu_stack):
    results = rules.evaluate(dev_stack_resources(gpu_stack), today=TODAY)
    assert set(results) == {rule.name for rule in rules.RULES}
    assert {name: found for name, found in results.items() if found} == {}


def _program_run(overrides):
    return run_program(overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        None,
        {"gpuStack": "managed"},
        {"gpuSpot": True, "gpuSpotMaxPrice": "0.5", "gpuMinCount": 0, "gpuMaxCount": 3},
        {"gpuVmSize": "Standard_NC96ads_A100_v4", "gpuMigProfile": "MIG1g", "gpuNodeCount": 2},
        {"gpuNodeTaints": ["nvidia.com/gpu:NoSchedule"]},
        {
            "resourceGroupName": "",
            "clusterName": "",
            "existingClusterName": "prodAKS",
            "existingClusterResourceGroup": "rg",
        },
    ],
    ids=["dev", "managed", "spot-autoscale", "mig", "custom-taint", "existing-cluster"],
)
def test_the_programs_own_stacks_pass_every_rule(overrides):
    """The real program under the mock engine (inputs with their secret markers, as recorded)."""
    run = _program_run(overrides)
    stack = [Resource(r.type, r.inputs, r.urn, r.name) for r in run.resources]
    # Not vacuous: the rules recognise the program's GPU pool and its secret kubeconfig.
    assert rules.gpu_targets(stack).pool_names == {"gpu"}
    assert rules.is_secret(find(stack, PROVIDER).props["kubeconfig"])
    results = rules.evaluate(stack, today=TODAY)
    assert {name: found for name, found in results.items() if found} == {}


def test_the_rules_catch_a_bad_change_to_the_programs_real_stack():
    stack = [Resource(r.type, r.inputs, r.urn, r.name) for r in _program_run(None).resources]
    job = find(stack, JOB)

    def cpu_only(props):
        del pod_spec_of(props)["containers"][0]["resources"]

    [violation] = rules.gpu_workload_violations(replace(stack, job, edited(job, cpu_only)))
    assert violation.urn == job.urn


# --- gpu-vm-size-not-retired / gpu-vm-size-retiring-soon ------------------------------------


def with_gpu_size(vm_size: str, location: str = "eastus", gpu_stack: str = "device-plugin") -> list[Resource]:
    stack = dev_stack_resources(gpu_stack)
    cluster = find(stack, CLUSTER)
    stack = replace(stack, cluster, {**cluster.props, "location": location})
    pool = find(stack, GENERIC if gpu_stack == "managed" else AGENT_POOL)
    if gpu_stack == "managed":
        return replace(stack, pool, {**pool.props, "properties": {**pool.props["properties"], "vmSize": vm_size}})
    return replace(stack, pool, {**pool.props, "vmSize": vm_size})


def test_a_retired_gpu_size_is_refused_with_its_date_and_successor():
    [violation] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC6"), TODAY)
    assert violation.urn == urn(AGENT_POOL, "gpu-pool")
    assert "Standard_NC6" in violation.message and "2023-09-06" in violation.message
    assert "Standard_NC4as_T4_v3" in violation.message  # the successor


def test_the_managed_pool_is_checked_too():
    [violation] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC24s_v2", gpu_stack="managed"), TODAY)
    assert violation.urn == urn(GENERIC, "gpu-pool") and "retired" in violation.message


def test_retirement_follows_the_clusters_region():
    # NCv3 retired on 2025-09-30, but later in the US Gov regions (2026-12-31).
    assert rules.gpu_vm_size_violations(with_gpu_size("Standard_NC6s_v3", "usgovvirginia"), TODAY) == []
    [violation] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC6s_v3", "eastus"), TODAY)
    assert "in eastus on 2025-09-30" in violation.message


def test_unsupported_and_unknown_sizes_are_refused():
    [amd] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NV16as_v4"), TODAY)
    assert "AMD" in amd.message
    [unknown] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC128ds_xl_RTXPRO6000BSE_v6"), TODAY)
    assert "not in the GPU VM size catalog" in unknown.message


def test_a_gpu_pool_inline_in_the_cluster_is_checked_with_the_clusters_region():
    stack = dev_stack_resources()
    cluster = find(stack, CLUSTER)
    inline = {
        "name": "gpu2",
        "mode": "User",
        "vmSize": "Standard_NC12",
        "count": 1,
        "nodeTaints": ["sku=gpu:NoSchedule"],
    }
    props = {**cluster.props, "agentPoolProfiles": [*cluster.props["agentPoolProfiles"], inline]}
    [violation] = rules.gpu_vm_size_violations(replace(stack, cluster, props), TODAY)
    assert violation.urn == urn(CLUSTER, "cluster") and "Standard_NC12" in violation.message


def test_a_pool_the_clusters_outputs_also_list_is_reported_once():
    # After `up`, ARM lists every agent pool in the cluster's agentPoolProfiles.
    stack = with_gpu_size("Standard_NC6")
    cluster, pool = find(stack, CLUSTER), find(stack, AGENT_POOL)
    listed = {"name": "gpu", **{k: pool.props[k] for k in ("vmSize", "nodeTaints", "gpuProfile")}}
    props = {**cluster.props, "agentPoolProfiles": [*cluster.props["agentPoolProfiles"], listed]}
    [violation] = rules.gpu_vm_size_violations(replace(stack, cluster, props), TODAY)
    assert violation.urn == pool.urn


def test_a_size_unknown_during_preview_is_left_for_up():
    assert rules.gpu_vm_size_violations(with_gpu_size(rules.UNKNOWN), TODAY) == []


def test_a_size_retiring_within_the_warning_window_is_flagged():
    stack = with_gpu_size("Standard_NV12s_v3")  # NVv3 retires 2026-09-30
    [warning] = rules.gpu_vm_size_retiring_violations(stack, date(2026, 6, 1))
    assert "2026-09-30 (121 days)" in warning.message and "NV36ads_A10_v5" in warning.message
    assert rules.gpu_vm_size_retiring_violations(stack, date(2025, 6, 1)) == []
    assert rules.gpu_vm_size_retiring_violations(dev_stack_resources(), TODAY) == []


def test_the_rules_read_the_programs_catalog():
    # No private list: the rule follows aks_gpu/facts/vm_sizes.py.
    assert rules.vm_sizes is vm_sizes
    assert rules.vm_size_problem("Standard_NC4as_T4_v3", "eastus", TODAY) is None


# --- gpu-pool-tainted -------------------------------------------------------------------------


def pool_props(**fields) -> dict[str, Any]:
    pool = find(dev_stack_resources(), AGENT_POOL)
    return {**pool.props, **fields}


def test_the_gpu_pool_is_tainted():
    assert rules.gpu_pool_taint_violations(AGENT_POOL, pool_props()) == []
    assert rules.gpu_pool_taint_violations(AGENT_POOL, pool_props(nodeTaints=["nvidia.com/gpu:NoSchedule"])) == []


@pytest.mark.parametrize(
    "taints",
    [None, [], [str(SPOT_TAINT)], ["sku=gpu:PreferNoSchedule"]],
    ids=["absent", "empty", "only-spot", "soft-only"],
)
def test_an_untainted_gpu_pool_is_refused(taints):
    [message] = rules.gpu_pool_taint_violations(AGENT_POOL, pool_props(nodeTaints=taints))
    assert "GPU pool 'gpu'" in message and "sku=gpu:NoSchedule" in message


def test_a_malformed_taint_is_named():
    messages = rules.gpu_pool_taint_violations(AGENT_POOL, pool_props(nodeTaints=["sku=gpu"]))
    assert any("key=value:Effect" in m for m in messages)


def test_the_managed_pool_and_inline_pools_are_checked_and_the_system_pool_is_not():
    managed = find(dev_stack_resources("managed"), GENERIC)
    assert rules.gpu_pool_taint_violations(GENERIC, managed.props) == []
    untainted = {**managed.props, "properties": {**managed.props["properties"], "nodeTaints": []}}
    assert len(rules.gpu_pool_taint_violations(GENERIC, untainted)) == 1
    cluster = find(dev_stack_resources(), CLUSTER)
    assert rules.gpu_pool_taint_violations(CLUSTER, cluster.props) == []  # system pool: no GPU
    gpu_inline = {"name": "gpu2", "vmSize": "Standard_NC8as_T4_v3"}
    props = {**cluster.props, "agentPoolProfiles": [*cluster.props["agentPoolProfiles"], gpu_inline]}
    [message] = rules.gpu_pool_taint_violations(CLUSTER, props)
    assert "'gpu2'" in message


def test_taints_unknown_during_preview_are_left_for_up():
    assert rules.gpu_pool_taint_violations(AGENT_POOL, pool_props(nodeTaints=rules.UNKNOWN)) == []


# --- gpu-workloads-request-gpu ------------------------------------------------------------------


def gpu_workload_findings(*extra: Resource, gpu_stack: str = "device-plugin") -> list[rules.Violation]:
    return rules.gpu_workload_violations([*dev_stack_resources(gpu_stack), *extra])


def test_gpu_workloads_that_request_a_gpu_pass():
    limits = {"resources": {"limits": {"nvidia.com/gpu": "2"}}}
    ok = workload(DEPLOYMENT, "trainer", {"tolerations": [GPU_TOLERATION], "containers": [cpu_container(**limits)]})
    assert gpu_workload_findings(ok) == []


@pytest.mark.parametrize(
    ("placement", "why"),
    [
        ({"tolerations": [GPU_TOLERATION]}, "toleration of the GPU taint sku=gpu:NoSchedule"),
        ({"tolerations": [{"operator": "Exists"}]}, "toleration of the GPU taint"),
        ({"nodeSelector": {"kubernetes.azure.com/accelerator": "nvidia"}}, "nodeSelector"),
        (
            {"nodeSelector": {"kubernetes.azure.com/agentpool": "gpu"}},
            "nodeSelector kubernetes.azure.com/agentpool=gpu",
        ),
        ({"affinity": gpu_affinity()}, "required node affinity"),
    ],
    ids=["toleration", "tolerate-everything", "accelerator-label", "agentpool-label", "affinity"],
)
def test_a_cpu_only_workload_on_the_gpu_pool_is_refused(placement, why):
    bad = workload(DEPLOYMENT, "web", {**placement, "containers": [cpu_container()]})
    [violation] = gpu_workload_findings(bad)
    assert violation.urn == urn(DEPLOYMENT, "web")
    assert "Deployment 'web'" in violation.message and why in violation.message
    assert "nvidia.com/gpu" in violation.message


def test_a_gpu_in_requests_only_is_explained():
    requests_only = cpu_container(resources={"requests": {"nvidia.com/gpu": 1}})
    bad = workload(POD, "p", {"tolerations": [GPU_TOLERATION], "containers": [requests_only]})
    [violation] = gpu_workload_findings(bad)
    assert "only under resources.requests" in violation.message


def test_the_job_kinds_and_the_pools_real_taints_are_used():
    # A custom pool taint: tolerating it is what schedules a pod onto the pool.
    stack = dev_stack_resources()
    pool = find(stack, AGENT_POOL)
    stack = replace(stack, pool, {**pool.props, "nodeTaints": ["team=ml:NoExecute"]})
    cron = res(
        "kubernetes:batch/v1:CronJob",
        "nightly",
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "tolerations": [{"key": "team", "operator": "Exists"}],
                                "containers": [cpu_container()],
                            }
                        }
                    }
                }
            },
        },
    )
    [violation] = rules.gpu_workload_violations([*stack, cron])
    assert "CronJob 'nightly'" in violation.message and "team=ml:NoExecute" in violation.message


def test_workloads_off_the_gpu_pool_and_the_device_plugin_are_exempt():
    elsewhere = workload(
        DEPLOYMENT,
        "web",
        {"nodeSelector": {"kubernetes.azure.com/agentpool": "system"}, "containers": [cpu_container()]},
    )
    spot_only = workload(
        DEPLOYMENT,
        "batch",
        {
            "tolerations": [{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists"}],
            "containers": [cpu_container()],
        },
    )
    assert gpu_workload_findings(elsewhere, spot_only) == []
    # The device plugin tolerates the GPU taint and requests nothing: it serves GPUs.
    plugin = find(dev_stack_resources(), DAEMONSET)
    assert rules.gpu_workload_violations([plugin]) == []


def test_a_copied_device_plugin_label_is_no_exemption():
    fake = workload(DAEMONSET, "miner", {"tolerations": [GPU_TOLERATION], "containers": [cpu_container()]})
    fake = Resource(
        fake.type,
        {**fake.props, "metadata": {"name": "miner", "labels": {"app.kubernetes.io/name": "nvidia-device-plugin"}}},
        fake.urn,
        fake.name,
    )
    assert len(gpu_workload_findings(fake)) == 1


def test_containers_unknown_during_preview_are_left_for_up():
    pending = workload(JOB, "pending", {"tolerations": [GPU_TOLERATION], "containers": rules.UNKNOWN})
    assert gpu_workload_findings(pending) == []


# --- no-device-plugin-with-managed-gpu ------------------------------------------------------


def test_the_device_plugin_is_allowed_with_the_device_plugin_stack():
    assert rules.device_plugin_conflict_violations(dev_stack_resources()) == []
    assert rules.device_plugin_conflict_violations(dev_stack_resources("managed")) == []


def test_a_device_plugin_with_the_managed_gpu_stack_is_refused():
    plugin = find(dev_stack_resources(), DAEMONSET)
    [violation] = rules.device_plugin_conflict_violations([*dev_stack_resources("managed"), plugin])
    assert violation.urn == plugin.urn
    assert "DaemonSet 'nvidia-device-plugin'" in violation.message and "managementMode" in violation.message


def test_any_sign_of_a_device_plugin_counts_when_refusing():
    seed_image = workload(DAEMONSET, "plugin", {"containers": [{"name": "p", "image": device_plugin.SEED_IMAGE}]})
    by_label = res(
        DAEMONSET, "x", {"metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "nvidia-device-plugin"}}}
    )
    found = rules.device_plugin_conflict_violations([*dev_stack_resources("managed"), seed_image, by_label])
    assert [v.urn for v in found] == [seed_image.urn, by_label.urn]


# --- no-privileged-containers -------------------------------------------------------------------


def test_the_programs_workloads_are_unprivileged():
    for r in dev_stack_resources():
        assert rules.privilege_violations(r.type, r.props) == [], r.name


@pytest.mark.parametrize(
    ("security_context", "fragment"),
    [
        ({"privileged": True}, "is privileged"),
        ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation: true"),
        ({"capabilities": {"add": ["SYS_ADMIN"]}}, "SYS_ADMIN"),
        ({"capabilities": {"add": ["all"]}}, "ALL"),
    ],
    ids=["privileged", "escalation", "sys-admin", "all-capabilities"],
)
def test_privilege_is_refused(security_context, fragment):
    spec = {"containers": [cpu_container(securityContext=security_context)]}
    [message] = rules.privilege_violations(DEPLOYMENT, workload(DEPLOYMENT, "web", spec).props)
    assert "Deployment 'web': container 'app'" in message and fragment in message


def test_privilege_is_refused_in_init_containers_and_even_in_the_device_plugin():
    init = {"initContainers": [cpu_container(securityContext={"privileged": True})], "containers": [cpu_container()]}
    assert len(rules.privilege_violations(JOB, workload(JOB, "j", init).props)) == 1
    plugin = find(dev_stack_resources(), DAEMONSET)

    def escalate(props):
        pod_spec_of(props)["containers"][0]["securityContext"]["privileged"] = True

    assert len(rules.privilege_violations(DAEMONSET, edited(plugin, escalate))) == 1


def test_only_the_device_plugin_mounts_a_host_path_and_only_its_socket_directory():
    socket_dir = {
        "volumes": [{"name": "dp", "hostPath": {"path": "/var/lib/kubelet/device-plugins/"}}],
        "containers": [cpu_container()],
    }
    [message] = rules.privilege_violations(DAEMONSET, workload(DAEMONSET, "not-the-plugin", socket_dir).props)
    assert "hostPath /var/lib/kubelet/device-plugins/" in message

    plugin = find(dev_stack_resources(), DAEMONSET)

    def mount_docker_socket(props):
        pod_spec_of(props)["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}})

    [message] = rules.privilege_violations(DAEMONSET, edited(plugin, mount_docker_socket))
    assert "volume 'docker' mounts hostPath /var/run/docker.sock" in message


def test_non_workloads_are_ignored():
    assert rules.privilege_violations(NAMESPACE, {"metadata": {"name": "x"}}) == []


# --- kubeconfig-is-secret -------------------------------------------------------------------------


def test_a_secret_kubeconfig_from_the_program_passes():
    provider = find(dev_stack_resources(), PROVIDER)
    assert rules.kubeconfig_secrecy_problem(PROVIDER, provider.props) is None
    assert rules.remediate_kubeconfig_secret(PROVIDER, provider.props) is None
    assert rules.kubeconfig_source_violations(PROVIDER, provider.props) == []
    # The engine's wire form of a secret counts as well.
    wire = {"kubeconfig": {SECRET_SIG_KEY: SECRET_SIG, "value": KUBECONFIG}}
    assert rules.kubeconfig_secrecy_problem(PROVIDER, wire) is None


def test_a_plain_kubeconfig_is_flagged_and_remediated_into_a_secret():
    plain = {"kubeconfig": KUBECONFIG, "version": "4.34.2"}
    assert "not a Pulumi secret" in rules.kubeconfig_secrecy_problem(PROVIDER, plain)
    fixed = rules.remediate_kubeconfig_secret(PROVIDER, plain)
    assert isinstance(fixed["kubeconfig"], Secret) and fixed["kubeconfig"].value == KUBECONFIG
    assert fixed["version"] == "4.34.2" and plain["kubeconfig"] == KUBECONFIG  # the input is not mutated


@pytest.mark.parametrize(
    ("props", "fragment"),
    [({}, "falls back to the KUBECONFIG"), ({"kubeconfig": "/home/runner/.kube/config"}, "is a file path")],
    ids=["ambient", "path"],
)
def test_a_kubeconfig_that_is_not_the_programs_is_refused(props, fragment):
    [message] = rules.kubeconfig_source_violations(PROVIDER, props)
    assert fragment in message


def test_other_resources_and_unknown_kubeconfigs_are_left_alone():
    assert rules.kubeconfig_source_violations(PROVIDER, {"kubeconfig": rules.UNKNOWN}) == []
    dynamic = find(dev_stack_resources(), "pulumi-python:dynamic:Resource")
    assert rules.kubeconfig_secrecy_problem(dynamic.type, {"kubeconfig": "plain"}) is None


# --- cluster-rbac-and-managed-identity -------------------------------------------------------


def cluster_props(**changes) -> dict[str, Any]:
    props = dict(find(dev_stack_resources(), CLUSTER).props)
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return props


def test_a_cluster_with_rbac_and_a_managed_identity_passes():
    assert rules.cluster_identity_violations(CLUSTER, cluster_props()) == []
    assert rules.cluster_identity_violations(CLUSTER, cluster_props(identity={"type": "UserAssigned"})) == []
    msi = {"clientId": "msi"}
    assert rules.cluster_identity_violations(CLUSTER, cluster_props(servicePrincipalProfile=msi)) == []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"enableRBAC": False}, "sets enableRBAC: False"),
        ({"enableRBAC": None}, "does not set enableRBAC"),
        ({"identity": None}, "has no identity"),
        ({"identity": {"type": "None"}}, "identity type 'None'"),
        (
            {"servicePrincipalProfile": {"clientId": "00000000-0000-0000-0000-000000000000", "secret": "x"}},
            "servicePrincipalProfile",
        ),
    ],
    ids=["rbac-off", "rbac-unset", "no-identity", "identity-none", "service-principal"],
)
def test_a_cluster_without_rbac_or_managed_identity_is_refused(changes, fragment):
    [message] = rules.cluster_identity_violations(CLUSTER, cluster_props(**changes))
    assert fragment in message


# --- The pack as pulumi-policy runs it -----------------------------------------------------------


@pytest.fixture(scope="module")
def pack_module(monkeypatch_module):
    """policy/__main__.py imported as a module, with PolicyPack replaced so that a
    regression (constructing the pack on import) fails instead of starting the server."""
    constructed = []
    monkeypatch_module.setattr("pulumi_policy.PolicyPack", lambda *a, **k: constructed.append(k))
    sys.modules.pop("policy.__main__", None)
    module = importlib.import_module("policy.__main__")
    assert constructed == [], "policy/__main__.py must only build the PolicyPack when run as __main__"
    return module


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


EXPECTED_LEVELS = {
    "gpu-vm-size-not-retired": EnforcementLevel.MANDATORY,
    "gpu-vm-size-retiring-soon": EnforcementLevel.ADVISORY,
    "gpu-pool-tainted": EnforcementLevel.MANDATORY,
    "gpu-workloads-request-gpu": EnforcementLevel.MANDATORY,
    "no-device-plugin-with-managed-gpu": EnforcementLevel.MANDATORY,
    "no-privileged-containers": EnforcementLevel.MANDATORY,
    "kubeconfig-is-secret": EnforcementLevel.REMEDIATE,
    "cluster-rbac-and-managed-identity": EnforcementLevel.MANDATORY,
}


def test_the_pack_wires_every_rule_with_its_level(pack_module):
    policies = pack_module.build_policies()
    assert {p.name: p.enforcement_level for p in policies} == EXPECTED_LEVELS
    assert all(p.description for p in policies)


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def to_wire(value: Any) -> Any:
    """Props as the engine marshals them: Secret -> the secret signature, UNKNOWN -> sentinel."""
    if isinstance(value, Secret):
        return {SECRET_SIG_KEY: SECRET_SIG, "value": to_wire(value.value)}
    if value is rules.UNKNOWN:
        return UNKNOWN_STRING
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def analyzer(pack_module) -> _PolicyAnalyzerServicer:
    # The SDK's own gRPC servicer, called in process: exactly the code path the
    # engine's Analyze/AnalyzeStack/Remediate calls take, without a server.
    return _PolicyAnalyzerServicer("aks-gpu", "1.0.0", pack_module.build_policies(), EnforcementLevel.MANDATORY)


def analyze_request(r: Resource) -> proto.AnalyzeRequest:
    return proto.AnalyzeRequest(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))


def test_the_engine_path_passes_the_dev_stack(pack_module):
    service = analyzer(pack_module)
    stack = dev_stack_resources()
    for r in stack:
        response = service.Analyze(analyze_request(r), None)
        assert list(response.diagnostics) == [], r.name
    resources = [
        proto.AnalyzerResource(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))
        for r in stack
    ]
    response = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    assert list(response.diagnostics) == []


def test_the_engine_path_reports_violations_with_their_level(pack_module):
    service = analyzer(pack_module)
    privileged = workload(DEPLOYMENT, "web", {"containers": [cpu_container(securityContext={"privileged": True})]})
    [diagnostic] = service.Analyze(analyze_request(privileged), None).diagnostics
    assert diagnostic.policyName == "no-privileged-containers"
    assert diagnostic.enforcementLevel == proto.MANDATORY and "is privileged" in diagnostic.message

    stack = with_gpu_size("Standard_NC6")
    resources = [
        proto.AnalyzerResource(type=r.type, urn=r.urn, name=r.name, properties=to_struct(to_wire(dict(r.props))))
        for r in stack
    ]
    [diagnostic] = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None).diagnostics
    assert diagnostic.policyName == "gpu-vm-size-not-retired" and diagnostic.urn == urn(AGENT_POOL, "gpu-pool")
    assert diagnostic.enforcementLevel == proto.MANDATORY


def test_the_engine_path_tolerates_values_unknown_during_preview(pack_module):
    service = analyzer(pack_module)
    provider = res(PROVIDER, "aks", {"kubeconfig": rules.UNKNOWN})
    pool = res(AGENT_POOL, "gpu-pool", pool_props(vmSize=rules.UNKNOWN, nodeTaints=rules.UNKNOWN))
    for r in (provider, pool):
        assert list(service.Analyze(analyze_request(r), None).diagnostics) == [], r.name


def test_the_engine_path_remediates_a_plain_kubeconfig_only(pack_module):
    service = analyzer(pack_module)
    plain = res(PROVIDER, "aks", {"kubeconfig": KUBECONFIG, "version": "4.34.2"})
    [remediation] = service.Remediate(analyze_request(plain), None).remediations
    assert remediation.policyName == "kubeconfig-is-secret"
    props = dict(remediation.properties)
    assert dict(props["kubeconfig"]) == {SECRET_SIG_KEY: SECRET_SIG, "value": KUBECONFIG}
    assert props["version"] == "4.34.2"

    secret = res(PROVIDER, "aks", {"kubeconfig": Secret(KUBECONFIG), "version": "4.34.2"})
    assert list(service.Remediate(analyze_request(secret), None).remediations) == []
    # A secret that is still unknown in preview stays as it is.
    pending = res(PROVIDER, "aks", {"kubeconfig": Secret(rules.UNKNOWN)})
    assert list(service.Remediate(analyze_request(pending), None).remediations) == []


def test_the_sdk_still_hides_secrecy_from_validations():
    """Pins the pulumi-policy behaviour kubeconfig-is-secret is designed around: a
    validation sees a secret input as a plain string. If a new SDK version exposes
    secrecy to validations, this fails and the rule can become a plain check."""
    seen = []
    policy = ResourceValidationPolicy(
        name="probe", description="probe", validate=lambda args, report: seen.append(args.props["kubeconfig"])
    )
    service = _PolicyAnalyzerServicer("probe", "1.0.0", [policy], EnforcementLevel.MANDATORY)
    service.Analyze(analyze_request(res(PROVIDER, "aks", {"kubeconfig": Secret(KUBECONFIG)})), None)
    assert seen == [KUBECONFIG] and type(seen[0]) is str


def _read_port(process: subprocess.Popen, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


def test_the_pack_boots_the_way_the_cli_starts_it():
    """`pulumi-analyzer-policy-python` runs `python -u -m pulumi.policy <engine> .` in the
    pack's directory; the pack prints its port and serves the Analyzer API on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=ROOT / "policy",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _read_port(process, timeout=120)
        assert port.isdigit(), f"no port printed; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "aks-gpu"
            assert {p.name for p in info.policies} == set(EXPECTED_LEVELS)
            privileged = workload(
                DEPLOYMENT, "web", {"containers": [cpu_container(securityContext={"privileged": True})]}
            )
            response = stub.Analyze(analyze_request(privileged), timeout=30)
            assert [d.policyName for d in response.diagnostics] == ["no-privileged-containers"]
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
