"""The policy pack's GPU rules over the program's real stack: VM sizes, the pool's taint, GPU workloads, one plugin.

The stack is what the program registers under the mock engine
(`tests.support.policy_stack.program_stack`), shaped as the engine hands it to a
policy pack; each test changes one thing in it and calls the rule directly.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from aks_gpu.facts import device_plugin, vm_sizes
from aks_gpu.facts.kubernetes import SPOT_TAINT
from policy import rules
from policy.rules import Resource
from tests.support.policy_stack import (
    AGENT_POOL,
    CLUSTER,
    DAEMONSET,
    DEPLOYMENT,
    GENERIC,
    GPU_TOLERATION,
    JOB,
    POD,
    TODAY,
    cpu_container,
    dev_stack,
    edited,
    find,
    gpu_affinity,
    pod_spec_of,
    replace,
    res,
    urn,
    workload,
)

# --- The program's own stacks pass every rule --------------------------------------------------


@pytest.mark.parametrize("gpu_stack", ["device-plugin", "managed"])
def test_the_dev_stack_passes_every_rule(gpu_stack):
    results = rules.evaluate(dev_stack(gpu_stack), today=TODAY)
    assert set(results) == {rule.name for rule in rules.RULES}
    assert {name: found for name, found in results.items() if found} == {}


def test_the_rules_catch_a_bad_change_to_the_programs_real_stack():
    stack = dev_stack()
    job = find(stack, JOB)

    def cpu_only(props):
        del pod_spec_of(props)["containers"][0]["resources"]

    [violation] = rules.gpu_workload_violations(replace(stack, job, edited(job, cpu_only)))
    assert violation.urn == job.urn


# --- gpu-vm-size-not-retired / gpu-vm-size-retiring-soon ------------------------------------


def with_gpu_size(vm_size: str, location: str = "eastus", gpu_stack: str = "device-plugin") -> list[Resource]:
    stack = dev_stack(gpu_stack)
    cluster = find(stack, CLUSTER)
    stack = replace(stack, cluster, {**cluster.props, "location": location})
    pool = find(stack, GENERIC if gpu_stack == "managed" else AGENT_POOL)
    if gpu_stack == "managed":
        return replace(stack, pool, {**pool.props, "properties": {**pool.props["properties"], "vmSize": vm_size}})
    return replace(stack, pool, {**pool.props, "vmSize": vm_size})


def test_a_retired_gpu_size_is_refused_with_its_date_and_successor():
    [violation] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC6"), TODAY)
    assert violation.urn == find(dev_stack(), AGENT_POOL).urn
    assert "Standard_NC6" in violation.message and "2023-09-06" in violation.message
    assert "Standard_NC4as_T4_v3" in violation.message  # the successor


def test_the_managed_pool_is_checked_too():
    [violation] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC24s_v2", gpu_stack="managed"), TODAY)
    assert violation.urn == find(dev_stack("managed"), GENERIC).urn and "retired" in violation.message


def test_retirement_follows_the_clusters_region():
    # NCv3 retired on 2025-09-30, but later in the US Gov regions (2026-12-31).
    assert rules.gpu_vm_size_violations(with_gpu_size("Standard_NC6s_v3", "usgovvirginia"), TODAY) == []
    [violation] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NC6s_v3", "eastus"), TODAY)
    assert "in eastus on 2025-09-30" in violation.message


def test_unsupported_sizes_are_refused_and_unknown_ones_flagged():
    [amd] = rules.gpu_vm_size_violations(with_gpu_size("Standard_NV16as_v4"), TODAY)
    assert "AMD" in amd.message
    # The program accepts a size its catalog does not know (with gpusPerNode), so the pack
    # only warns that its retirement date is unknown.
    assert rules.gpu_vm_size_violations(with_gpu_size("Standard_NC128ds_xl_RTXPRO6000BSE_v6"), TODAY) == []
    [unknown] = rules.gpu_vm_size_retiring_violations(with_gpu_size("Standard_NC128ds_xl_RTXPRO6000BSE_v6"), TODAY)
    assert "not in the GPU VM size catalog" in unknown.message
    assert rules.gpu_vm_size_retiring_violations(with_gpu_size("Standard_NV16as_v4"), TODAY) == []


def test_a_gpu_pool_inline_in_the_cluster_is_checked_with_the_clusters_region():
    stack = dev_stack()
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
    assert violation.urn == find(dev_stack(), CLUSTER).urn and "Standard_NC12" in violation.message


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
    assert rules.gpu_vm_size_retiring_violations(dev_stack(), TODAY) == []


def test_the_rules_read_the_programs_catalog():
    # No private list: the rule follows aks_gpu/facts/vm_sizes.py.
    assert rules.vm_sizes is vm_sizes
    assert rules.vm_size_problem("Standard_NC4as_T4_v3", "eastus", TODAY) is None


# --- gpu-pool-tainted -------------------------------------------------------------------------


def pool_props(**fields) -> dict[str, Any]:
    pool = find(dev_stack(), AGENT_POOL)
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
    managed = find(dev_stack("managed"), GENERIC)
    assert rules.gpu_pool_taint_violations(GENERIC, managed.props) == []
    untainted = {**managed.props, "properties": {**managed.props["properties"], "nodeTaints": []}}
    assert len(rules.gpu_pool_taint_violations(GENERIC, untainted)) == 1
    cluster = find(dev_stack(), CLUSTER)
    assert rules.gpu_pool_taint_violations(CLUSTER, cluster.props) == []  # system pool: no GPU
    gpu_inline = {"name": "gpu2", "vmSize": "Standard_NC8as_T4_v3"}
    props = {**cluster.props, "agentPoolProfiles": [*cluster.props["agentPoolProfiles"], gpu_inline]}
    [message] = rules.gpu_pool_taint_violations(CLUSTER, props)
    assert "'gpu2'" in message


def test_taints_unknown_during_preview_are_left_for_up():
    assert rules.gpu_pool_taint_violations(AGENT_POOL, pool_props(nodeTaints=rules.UNKNOWN)) == []


# --- gpu-workloads-request-gpu ------------------------------------------------------------------


def gpu_workload_findings(*extra: Resource, gpu_stack: str = "device-plugin") -> list[rules.Violation]:
    return rules.gpu_workload_violations([*dev_stack(gpu_stack), *extra])


def test_gpu_workloads_that_request_a_gpu_pass():
    limits = {"resources": {"limits": {"nvidia.com/gpu": "2"}}}
    ok = workload(DEPLOYMENT, "trainer", {"tolerations": [GPU_TOLERATION], "containers": [cpu_container(**limits)]})
    assert gpu_workload_findings(ok) == []


@pytest.mark.parametrize(
    ("placement", "why"),
    [
        ({"tolerations": [GPU_TOLERATION]}, "toleration of the GPU taint sku=gpu:NoSchedule"),
        ({"tolerations": [{"key": "sku", "operator": "Exists"}]}, "toleration of the GPU taint"),
        ({"nodeSelector": {"kubernetes.azure.com/accelerator": "nvidia"}}, "nodeSelector"),
        (
            {"nodeSelector": {"kubernetes.azure.com/agentpool": "gpu"}},
            "nodeSelector kubernetes.azure.com/agentpool=gpu",
        ),
        ({"affinity": gpu_affinity()}, "required node affinity"),
    ],
    ids=["toleration", "tolerate-the-key", "accelerator-label", "agentpool-label", "affinity"],
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
    stack = dev_stack()
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
    plugin = find(dev_stack(), DAEMONSET)
    assert rules.gpu_workload_violations([plugin]) == []


def test_a_copied_device_plugin_label_is_no_exemption():
    # A Deployment: DaemonSets are node agents, exempt whatever their labels (see below).
    fake = workload(DEPLOYMENT, "miner", {"tolerations": [GPU_TOLERATION], "containers": [cpu_container()]})
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
    assert rules.device_plugin_conflict_violations(dev_stack()) == []
    assert rules.device_plugin_conflict_violations(dev_stack("managed")) == []


def test_a_device_plugin_with_the_managed_gpu_stack_is_refused():
    plugin = find(dev_stack(), DAEMONSET)
    [violation] = rules.device_plugin_conflict_violations([*dev_stack("managed"), plugin])
    assert violation.urn == plugin.urn
    assert "DaemonSet 'nvidia-device-plugin'" in violation.message and "managementMode" in violation.message


def test_any_sign_of_a_device_plugin_counts_when_refusing():
    seed_image = workload(DAEMONSET, "plugin", {"containers": [{"name": "p", "image": device_plugin.SEED_IMAGE}]})
    by_label = res(
        DAEMONSET, "x", {"metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "nvidia-device-plugin"}}}
    )
    found = rules.device_plugin_conflict_violations([*dev_stack("managed"), seed_image, by_label])
    assert [v.urn for v in found] == [seed_image.urn, by_label.urn]


# --- Node agents and tolerate-everything pods are not aimed at GPU nodes ----------------------------


def dcgm_exporter(type_: str = DAEMONSET) -> Resource:
    """NVIDIA's dcgm-exporter as its Helm chart renders it (deployment/templates/daemonset.yaml and
    values.yaml), with the GPU pool's toleration and selector a GPU cluster adds: it watches
    the GPUs of every GPU node without requesting one, as root with SYS_ADMIN for profiling metrics."""
    spec = {
        "priorityClassName": "system-node-critical",
        "nodeSelector": {"kubernetes.azure.com/accelerator": "nvidia"},
        "tolerations": [GPU_TOLERATION],
        "volumes": [{"name": "pod-gpu-resources", "hostPath": {"path": "/var/lib/kubelet/pod-resources"}}],
        "containers": [
            {
                "name": "exporter",
                "image": "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",
                "args": ["-f", "/etc/dcgm-exporter/default-counters.csv"],
                "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}},
                "volumeMounts": [
                    {"name": "pod-gpu-resources", "readOnly": True, "mountPath": "/var/lib/kubelet/pod-resources"}
                ],
            }
        ],
    }
    return workload(type_, "dcgm-exporter", spec, labels={"app.kubernetes.io/name": "dcgm-exporter"})


def log_shipper(type_: str = DAEMONSET) -> Resource:
    """A log shipper on every node: tolerates every taint, requests no GPU."""
    spec = {
        "tolerations": [{"operator": "Exists"}],
        "containers": [cpu_container(name="fluent-bit", image="cr.fluentbit.io/fluent/fluent-bit:4.0")],
    }
    return workload(type_, "fluent-bit", spec)


@pytest.mark.parametrize("gpu_stack", ["device-plugin", "managed"])
def test_the_dcgm_exporter_and_a_log_shipper_are_not_gpu_workloads(gpu_stack):
    stack = [*dev_stack(gpu_stack), dcgm_exporter(), log_shipper()]
    results = rules.evaluate(stack, today=TODAY)
    assert results["gpu-workloads-request-gpu"] == []
    assert results["no-device-plugin-with-managed-gpu"] == []
    # The log shipper passes every rule; the exporter is refused only for the host access it takes.
    failing = {name: [v.urn for v in found] for name, found in results.items() if found}
    assert failing == {"no-privileged-containers": [dcgm_exporter().urn, dcgm_exporter().urn]}
    messages = " ".join(v.message for v in results["no-privileged-containers"])
    assert "['SYS_ADMIN']" in messages and "hostPath /var/lib/kubelet/pod-resources" in messages


def test_node_agents_of_any_api_version_are_exempt_and_other_kinds_are_not():
    for type_ in (DAEMONSET, "kubernetes:extensions/v1beta1:DaemonSet", "kubernetes:apps/v1:DaemonSetPatch"):
        assert gpu_workload_findings(dcgm_exporter(type_)) == [], type_
    # The same pod spec as a Deployment is aimed at GPU nodes and holds one without a GPU.
    [violation] = gpu_workload_findings(dcgm_exporter(DEPLOYMENT))
    assert "nodeSelector kubernetes.azure.com/accelerator=nvidia" in violation.message


@pytest.mark.parametrize(
    "toleration",
    [{"operator": "Exists"}, {"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "key": ""}],
    ids=["everything", "every-noschedule", "empty-key"],
)
def test_a_tolerate_everything_pod_is_not_aimed_at_gpu_nodes(toleration):
    spec = {"tolerations": [toleration], "containers": [cpu_container()]}
    for type_ in (DEPLOYMENT, POD, JOB):
        assert gpu_workload_findings(workload(type_, "agentish", spec)) == [], type_
    # Tolerating everything and also selecting the GPU nodes is aiming at them.
    aimed = workload(DEPLOYMENT, "aimed", {**spec, "affinity": gpu_affinity()})
    [violation] = gpu_workload_findings(aimed)
    assert "required node affinity" in violation.message


# --- Versioned resource types and Helm releases are recognised ----------------------------------


def versioned(stack: list[Resource], version: str = "v20250801") -> list[Resource]:
    """The stack with azure-native's default types pinned to an API version, as `containerservice.v20250801` does."""

    def pin(type_: str) -> str:
        module, sep, rest = type_.partition(":")[2].partition(":")
        return f"azure-native:{module}/{version}:{rest}" if type_.startswith("azure-native:") and sep else type_

    return [Resource(pin(r.type), r.props, r.urn, r.name) for r in stack]


def test_versioned_azure_types_are_checked_like_the_default_ones():
    stack = versioned(with_gpu_size("Standard_NC6"))
    pool = next(r for r in stack if r.type == "azure-native:containerservice/v20250801:AgentPool")
    [violation] = rules.gpu_vm_size_violations(stack, TODAY)
    assert violation.urn == pool.urn and "2023-09-06" in violation.message
    [taint] = rules.gpu_pool_taint_violations(pool.type, {**pool.props, "nodeTaints": []})
    assert "GPU pool 'gpu'" in taint
    cluster = next(r for r in stack if r.type == "azure-native:containerservice/v20250801:ManagedCluster")
    [rbac] = rules.cluster_identity_violations(cluster.type, {**cluster.props, "enableRBAC": False})
    assert "enableRBAC" in rbac
    managed = versioned(dev_stack("managed"), "v20240301")
    assert rules.gpu_targets(managed).pool_names == {"gpu"}
    assert {name: found for name, found in rules.evaluate(versioned(dev_stack()), TODAY).items() if found} == {}


def test_versioned_kubernetes_types_are_checked_like_the_default_ones():
    for type_ in (
        "kubernetes:apps/v1beta2:Deployment",
        "kubernetes:extensions/v1beta1:Deployment",
        "kubernetes:apps/v1:DeploymentPatch",
        "kubernetes:batch/v1beta1:CronJob",
    ):
        spec = {"tolerations": [GPU_TOLERATION], "containers": [cpu_container()]}
        if type_.endswith("CronJob"):
            bad = res(
                type_, "x", {"metadata": {"name": "x"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}
            )
        else:
            bad = workload(type_, "x", spec)
        assert len(gpu_workload_findings(bad)) == 1, type_
    plugin = find(dev_stack(), DAEMONSET)
    for type_ in ("kubernetes:apps/v1beta2:DaemonSet", "kubernetes:extensions/v1beta1:DaemonSet"):
        [violation] = rules.device_plugin_conflict_violations(
            [*dev_stack("managed"), Resource(type_, plugin.props, plugin.urn, plugin.name)]
        )
        assert violation.urn == plugin.urn, type_
    # A custom resource that happens to be called DaemonSet is no node agent: its pod template
    # is found by the walk and judged like any other workload's.
    custom = "kubernetes:example.com/v1:DaemonSet"
    assert not rules.is_node_agent(custom)
    assert [at.where for at in rules.pod_specs(custom, plugin.props)] == ["spec.template.spec"]


def helm_release(chart: str, values: dict[str, Any] | None = None, **extra: Any) -> Resource:
    props = {"chart": chart, "name": "gpu-plugin", "namespace": "kube-system", "values": values or {}, **extra}
    return res(HELM_RELEASE_TYPE, "gpu-plugin", props)


HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(
    ("chart", "values", "extra"),
    [
        (
            "nvidia-device-plugin",
            {"migStrategy": "single"},
            {"repositoryOpts": {"repo": "https://nvidia.github.io/k8s-device-plugin"}},
        ),
        ("nvdp/nvidia-device-plugin", {}, {"version": "0.18.0"}),
        ("oci://ghcr.io/nvidia/charts/nvidia-device-plugin", {}, {}),
        ("./charts/nvidia-device-plugin-0.18.0.tgz", {}, {}),
        ("gpu-operator", {}, {"repositoryOpts": {"repo": "https://helm.ngc.nvidia.com/nvidia"}}),
        ("my-plugin", {"image": {"repository": "myregistry.azurecr.io/nvidia/k8s-device-plugin"}}, {}),
    ],
    ids=["chart", "repo-prefix", "oci", "local-tgz", "gpu-operator", "mirrored-image"],
)
def test_a_device_plugin_helm_release_is_refused_with_the_managed_stack(chart, values, extra):
    release = helm_release(chart, values, **extra)
    [violation] = rules.device_plugin_conflict_violations([*dev_stack("managed"), release])
    assert violation.urn == release.urn
    assert "Helm release 'gpu-plugin' installs the NVIDIA device plugin" in violation.message
    assert rules.device_plugin_conflict_violations([*dev_stack(), release]) == []


@pytest.mark.parametrize(
    ("chart", "values"),
    [
        ("gpu-operator", {"devicePlugin": {"enabled": False}}),
        ("ingress-nginx", {}),
        ("dcgm-exporter", {"image": {"repository": "nvcr.io/nvidia/k8s/dcgm-exporter"}}),
        ("nvidia-device-plugin-docs", {}),
    ],
    ids=["operator-without-plugin", "unrelated", "dcgm-exporter", "lookalike-name"],
)
def test_other_helm_releases_pass_with_the_managed_stack(chart, values):
    assert rules.device_plugin_conflict_violations([*dev_stack("managed"), helm_release(chart, values)]) == []
