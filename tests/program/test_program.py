"""The whole program under Pulumi's mock engine, for the configurations users run."""

from __future__ import annotations

import json

import pulumi
import pytest

from aks_gpu.config.project import SettingsError, declared_default
from aks_gpu.facts import azure, device_plugin
from tests.support.harness import DYNAMIC_OUTPUTS, FAKE_TOKEN, Run, is_secret, run_program

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
GENERIC = "azure-native:resources:Resource"
GROUP = "azure-native:resources:ResourceGroup"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
JOB = "kubernetes:batch/v1:Job"
NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_PROVIDER = "pulumi:providers:kubernetes"
FEATURE = "azure-native:features:SubscriptionFeatureRegistration"


# The walkthrough's workload, one key away from the default acceptance test.
MNIST = {"sampleWorkload": "mnist"}


@pytest.fixture(scope="module")
def dev() -> Run:
    return run_program()


@pytest.fixture(scope="module")
def mnist() -> Run:
    return run_program(MNIST)


def pod_spec(resource) -> dict:
    return resource.plain_inputs["spec"]["template"]["spec"]


def depends_on(run: Run, resource, type_: str) -> bool:
    return any(run.by_urn(urn).type == type_ for urn in resource.dependencies)


# --- The dev stack: the seed's scenario on today's Azure --------------------------


def test_dev_stack_creates_the_seed_resources(dev):
    assert dev.one(GROUP).inputs["resourceGroupName"] == "myResourceGroup"
    assert dev.one(GROUP).inputs["location"] == "eastus"
    cluster = dev.one(CLUSTER).plain_inputs
    assert cluster["resourceName"] == "myAKSCluster"
    assert cluster["enableRBAC"] is True
    assert cluster["identity"] == {"type": "SystemAssigned"}
    assert "servicePrincipalProfile" not in cluster
    assert cluster["agentPoolProfiles"] == [
        {
            "name": "system",
            "mode": "System",
            "vmSize": declared_default("systemVmSize"),
            "count": 1,
            "osType": "Linux",
            "type": "VirtualMachineScaleSets",
        }
    ]


def test_gpu_pool_is_a_separate_agent_pool_the_cluster_does_not_fight(dev):
    pool = dev.one(AGENT_POOL)
    props = pool.plain_inputs
    assert props["vmSize"] == "Standard_NC4as_T4_v3"
    assert props["agentPoolName"] == "gpu"
    assert props["resourceName"] == "myAKSCluster"
    assert props["mode"] == "User"
    assert props["count"] == 1
    assert props["enableAutoScaling"] is False
    assert props["nodeTaints"] == ["sku=gpu:NoSchedule"]
    assert props["gpuProfile"] == {"driver": "Install"}
    assert "gpuInstanceProfile" not in props and "scaleSetPriority" not in props
    # A second `up` must not plan to drop the pool from the cluster's inline list.
    assert "agentPoolProfiles" in dev.one(CLUSTER).ignore_changes
    assert depends_on(dev, pool, CLUSTER)
    assert pool.delete_before_replace
    assert {"vmSize", "gpuInstanceProfile", "gpuProfile"} <= set(pool.replace_on_changes)
    assert pool.ignore_changes == []  # fixed count: Pulumi owns it


def test_children_are_parented_to_their_components(dev):
    parents = {
        r.name: dev.by_urn(r.parent).type
        for r in dev.resources
        if r.parent and "::pulumi:pulumi:Stack::" not in r.parent
    }
    assert parents["aks-gpu-cluster"] == "aks-gpu:index:GpuCluster"
    assert parents["aks-gpu-pool"] == "aks-gpu:index:GpuCluster"
    assert parents["aks-gpu-kubernetes"] == "aks-gpu:index:GpuCluster"
    assert parents["nvidia-device-plugin-namespace"] == "aks-gpu:index:NvidiaDevicePlugin"
    assert parents["nvidia-device-plugin-daemonset"] == "aks-gpu:index:NvidiaDevicePlugin"
    assert parents["gpu-acceptance-job"] == "aks-gpu:index:GpuAcceptance"
    assert parents["gpu-acceptance-script"] == "aks-gpu:index:GpuAcceptance"


def test_kubernetes_objects_use_the_cluster_provider_explicitly(dev, mnist):
    for run in (dev, mnist):
        provider = run.one(K8S_PROVIDER)
        kubernetes = [r for r in run.resources if r.type.startswith("kubernetes:")]
        assert {r.type for r in kubernetes} >= {NAMESPACE, DAEMONSET, JOB}
        for resource in kubernetes:
            assert resource.provider.startswith(provider.urn + "::"), resource.name


def test_device_plugin_keeps_the_seed_intent_and_tolerates_the_pool(dev):
    daemonset = dev.one(DAEMONSET)
    spec = daemonset.plain_inputs["spec"]
    pod = spec["template"]["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert pod["priorityClassName"] == "system-node-critical"
    container = pod["containers"][0]
    assert container["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.18.0"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["volumes"] == [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}]
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pod["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod["tolerations"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # Only the agent pool label: a scale-from-zero template node always has it.
    assert terms == [
        {"matchExpressions": [{"key": "kubernetes.azure.com/agentpool", "operator": "In", "values": ["gpu"]}]}
    ]
    assert daemonset.plain_inputs["metadata"]["namespace"] == "gpu-resources"
    # Off the critical path: the DaemonSet waits for the cluster (through its provider)
    # and the namespace, not for the GPU pool's many minutes.
    assert depends_on(dev, daemonset, NAMESPACE)
    assert not depends_on(dev, daemonset, AGENT_POOL)
    assert "env" not in container and "add" not in container["securityContext"]["capabilities"]


def test_sample_job_matches_the_seed_and_waits_for_pool_and_plugin(mnist):
    dev = mnist
    job = dev.one(JOB)
    assert dev.by_urn(job.parent).type == "aks-gpu:index:SampleGpuJob"
    pod = pod_spec(job)
    container = pod["containers"][0]
    assert container["image"] == "mcr.microsoft.com/azuredocs/samples-tf-mnist-demo:gpu"
    assert container["args"] == ["--max_steps", "500"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert pod["restartPolicy"] == "OnFailure"
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod["tolerations"]
    assert int(job.plain_inputs["metadata"]["annotations"]["pulumi.com/timeoutSeconds"]) >= 1200
    assert depends_on(dev, job, AGENT_POOL)
    assert depends_on(dev, job, DAEMONSET)
    assert depends_on(dev, job, NAMESPACE)


def test_outputs_and_kubeconfig_secrecy(dev):
    assert dev.output("resourceGroupName") == "myResourceGroup"
    assert dev.output("clusterName") == "myAKSCluster"
    assert dev.output("gpuPoolName") == "gpu"
    assert dev.output("gpuVmSize") == "Standard_NC4as_T4_v3"
    assert dev.output("expectedGpus") == 1
    assert dev.output("gpuResource") == "nvidia.com/gpu"
    assert dev.output("gpuAcceptance") == DYNAMIC_OUTPUTS["acceptance-result"]["result"]
    assert "sampleJobName" not in dev.outputs
    assert is_secret(dev.outputs["kubeconfig"])
    assert FAKE_TOKEN in dev.output("kubeconfig")
    assert is_secret(dev.one(K8S_PROVIDER).inputs["kubeconfig"])


def _unmarked_strings(value, inside_secret=False):
    if is_secret(value):
        yield from _unmarked_strings(value["value"], True)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _unmarked_strings(item, inside_secret)
    elif isinstance(value, list):
        for item in value:
            yield from _unmarked_strings(item, inside_secret)
    elif isinstance(value, str) and not inside_secret:
        yield value


def test_credential_appears_only_inside_secrets(dev):
    everything = [r.inputs for r in dev.resources] + [dev.outputs]
    leaked = [s for item in everything for s in _unmarked_strings(item) if FAKE_TOKEN in s]
    assert leaked == []
    assert not any(FAKE_TOKEN in w for w in dev.warnings)


def is_unknown(value) -> bool:
    return isinstance(value, pulumi.output.Unknown) or (is_secret(value) and is_unknown(value["value"]))


def test_preview_of_a_new_stack_sees_what_the_engine_would(dev):
    run = run_program(preview=True)
    assert sorted((r.type, r.name) for r in run.resources) == sorted((r.type, r.name) for r in dev.resources)
    # The cluster does not exist yet: its name is unknown, so the credentials invoke is
    # never sent and the kubeconfig (provider input, check input, output) is unknown.
    assert run.invokes == []
    assert is_unknown(run.one(AGENT_POOL).inputs["resourceName"])
    assert is_unknown(run.one(K8S_PROVIDER).inputs["kubeconfig"])
    assert is_secret(run.one(K8S_PROVIDER).inputs["kubeconfig"])
    for output in ("clusterName", "resourceGroupName", "verifiedGpus", "gpuNodes", "gpuAcceptance"):
        assert is_unknown(run.outputs[output]), output
    assert is_unknown(run.outputs["kubeconfig"]) and is_secret(run.outputs["kubeconfig"])
    # What the program knows from config alone stays known.
    assert run.output("gpuVmSize") == "Standard_NC4as_T4_v3"
    assert run.output("expectedGpus") == 1


def test_preview_against_an_existing_cluster_reads_it():
    run = run_program(EXISTING, preview=True)
    tokens = [token for token, _ in run.invokes]
    # Both invokes take only config values, so they run at preview: a typo in the
    # cluster's name fails the preview, not the update.
    assert tokens == [
        "azure-native:containerservice:getManagedCluster",
        "azure-native:containerservice:listManagedClusterUserCredentials",
    ]
    assert not is_unknown(run.one(K8S_PROVIDER).inputs["kubeconfig"])


# --- Other configurations ----------------------------------------------------------


def test_managed_gpu_stack_installs_no_device_plugin():
    run = run_program({"gpuStack": "managed"})
    assert run.all(DAEMONSET) == []
    assert run.all(AGENT_POOL) == []
    pool = run.one(GENERIC)
    inputs = pool.plain_inputs
    assert inputs["apiVersion"] == azure.MANAGED_GPU_API_VERSION
    assert inputs["resourceProviderNamespace"] == "Microsoft.ContainerService"
    assert inputs["resourceType"] == "agentPools"
    assert inputs["parentResourcePath"] == "managedClusters/myAKSCluster"
    assert inputs["resourceName"] == "gpu"
    assert inputs["properties"]["gpuProfile"] == {"driver": "Install", "nvidia": {"managementMode": "Managed"}}
    assert inputs["properties"]["vmSize"] == "Standard_NC4as_T4_v3"
    assert "properties.vmSize" in pool.replace_on_changes
    assert run.one(NAMESPACE)  # the sample job still needs it
    assert depends_on(run, run.one(JOB), GENERIC)
    assert run.all(FEATURE) == []
    assert any("az feature register" in w and azure.MANAGED_GPU_FEATURE in w for w in run.warnings)


def test_managed_gpu_stack_can_register_the_preview_feature():
    run = run_program({"gpuStack": "managed", "registerPreviewFeatures": True})
    feature = run.one(FEATURE)
    assert feature.plain_inputs["featureName"] == azure.MANAGED_GPU_FEATURE
    assert feature.plain_inputs["providerNamespace"] == "Microsoft.ContainerService"
    assert feature.retain_on_delete
    assert depends_on(run, run.one(GENERIC), FEATURE)
    assert not any("az feature register" in w for w in run.warnings)


EXISTING = {
    "resourceGroupName": "",
    "clusterName": "",
    "existingClusterName": "prodAKS",
    "existingClusterResourceGroup": "prod-rg",
}


def test_existing_cluster_gets_only_the_pool_and_what_follows():
    run = run_program(EXISTING)
    assert run.all(GROUP) == [] and run.all(CLUSTER) == []
    pool = run.one(AGENT_POOL).plain_inputs
    assert (pool["resourceGroupName"], pool["resourceName"]) == ("prod-rg", "prodAKS")
    tokens = [token for token, _ in run.invokes]
    assert "azure-native:containerservice:getManagedCluster" in tokens
    credentials = dict(run.invokes)["azure-native:containerservice:listManagedClusterUserCredentials"]
    assert credentials == {"resourceGroupName": "prod-rg", "resourceName": "prodAKS"}
    assert run.output("clusterName") == "prodAKS"
    assert run.one(DAEMONSET) and run.one(JOB)


def test_spot_autoscaled_pool_tolerates_the_spot_taint():
    run = run_program({"gpuSpot": True, "gpuSpotMaxPrice": "0.5", "gpuMinCount": 0, "gpuMaxCount": 3})
    pool = run.one(AGENT_POOL)
    props = pool.plain_inputs
    assert props["scaleSetPriority"] == "Spot"
    assert props["scaleSetEvictionPolicy"] == "Delete"
    assert props["spotMaxPrice"] == 0.5
    assert (props["enableAutoScaling"], props["minCount"], props["maxCount"], props["count"]) == (True, 0, 3, 0)
    assert pool.ignore_changes == ["count"]
    # AKS adds the spot taint itself; declaring it would show a diff on every refresh.
    assert props["nodeTaints"] == ["sku=gpu:NoSchedule"]
    spot = {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    assert spot in pod_spec(run.one(DAEMONSET))["tolerations"]
    assert spot in pod_spec(run.one(JOB))["tolerations"]
    assert run.output("expectedGpus") == 0


# --- MIG: every GPU of the pool split the same way -------------------------------------


@pytest.mark.parametrize(
    "size, profile, nodes, strategy, resource, expected",
    [
        ("Standard_NC96ads_A100_v4", "MIG1g", 2, "", "nvidia.com/gpu", 2 * 4 * 7),
        ("Standard_NC96ads_A100_v4", "MIG3g", 2, "single", "nvidia.com/gpu", 16),
        ("Standard_NC24ads_A100_v4", "MIG1g", 1, "mixed", "nvidia.com/mig-1g.10gb", 7),
        ("Standard_NC48ads_A100_v4", "MIG2g", 3, "mixed", "nvidia.com/mig-2g.20gb", 3 * 2 * 3),
        ("Standard_NC24ads_A100_v4", "MIG7g", 4, "single", "nvidia.com/gpu", 4),
        ("Standard_NC40ads_H100_v5", "MIG1g", 1, "mixed", "nvidia.com/mig-1g.12gb", 7),
        ("Standard_NC80adis_H100_v5", "MIG3g", 2, "single", "nvidia.com/gpu", 2 * 2 * 2),
        ("Standard_NC80adis_H100_v5", "MIG4g", 1, "mixed", "nvidia.com/mig-4g.47gb", 2),
    ],
)
def test_mig_pool_advertises_and_verifies_its_instances(size, profile, nodes, strategy, resource, expected):
    run = run_program({"gpuVmSize": size, "gpuMigProfile": profile, "gpuMigStrategy": strategy, "gpuNodeCount": nodes})
    assert run.one(AGENT_POOL).plain_inputs["gpuInstanceProfile"] == profile
    assert run.output("expectedGpus") == expected
    assert run.output("gpuResource") == resource
    check = run.one("pulumi-python:dynamic:Resource", "gpu-verification-capacity").plain_inputs
    assert (check["expectedGpus"], check["gpuResource"]) == (expected, resource)
    # The sample workload asks for what the nodes advertise.
    per_node = expected // nodes
    assert pod_spec(run.one(JOB))["containers"][0]["resources"]["limits"] == {resource: per_node}
    mnist = run_program({"gpuVmSize": size, "gpuMigProfile": profile, "gpuMigStrategy": strategy, **MNIST})
    assert pod_spec(mnist.one(JOB))["containers"][0]["resources"]["limits"] == {resource: 1}
    plugin = pod_spec(run.one(DAEMONSET))["containers"][0]
    assert plugin["env"] == [
        {"name": "MIG_STRATEGY", "value": strategy or "single"},
        {"name": "NVIDIA_MIG_MONITOR_DEVICES", "value": "all"},
    ]
    assert plugin["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    # Kubernetes refuses allowPrivilegeEscalation: false beside SYS_ADMIN.
    assert plugin["securityContext"]["allowPrivilegeEscalation"] is True


@pytest.mark.parametrize("strategy, sent", [("", "Single"), ("single", "Single"), ("mixed", "Mixed")])
def test_managed_mig_pool_sends_the_strategy_to_aks(strategy, sent):
    run = run_program(
        {
            "gpuStack": "managed",
            "gpuVmSize": "Standard_NC24ads_A100_v4",
            "gpuMigProfile": "MIG2g",
            "gpuMigStrategy": strategy,
        }
    )
    nvidia = run.one(GENERIC).plain_inputs["properties"]["gpuProfile"]["nvidia"]
    assert nvidia == {"managementMode": "Managed", "migStrategy": sent}
    assert run.all(DAEMONSET) == []
    assert run.output("expectedGpus") == 3


def test_mig_strategy_needs_a_profile():
    with pytest.raises(SettingsError, match="gpuMigStrategy") as error:
        run_program({"gpuMigStrategy": "mixed"})
    assert error.value.run.resources == []
    with pytest.raises(SettingsError, match='gpuMigStrategy = "none"'):
        run_program({"gpuVmSize": "Standard_NC24ads_A100_v4", "gpuMigProfile": "MIG1g", "gpuMigStrategy": "none"})


def test_labels_and_custom_taints_reach_pool_and_tolerations():
    run = run_program({"gpuNodeTaints": ["nvidia.com/gpu:NoSchedule"], "gpuNodeLabels": ["team=ml", "tier=gpu"]})
    props = run.one(AGENT_POOL).plain_inputs
    assert props["nodeLabels"] == {"team": "ml", "tier": "gpu"}
    assert props["nodeTaints"] == ["nvidia.com/gpu:NoSchedule"]
    job_tolerations = pod_spec(run.one(JOB))["tolerations"]
    assert job_tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_sample_job_can_be_turned_off():
    run = run_program({"sampleJob": False})
    assert run.all(JOB) == []
    assert "sampleJobName" not in run.outputs  # Pulumi drops None outputs


def test_seed_device_plugin_image_stays_reachable():
    run = run_program({"devicePluginImage": device_plugin.SEED_IMAGE})
    assert pod_spec(run.one(DAEMONSET))["containers"][0]["image"] == device_plugin.SEED_IMAGE


# --- Bad input: refused before anything is registered --------------------------------


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"gpuVmSize": "Standard_NC6"}, "retired on 2023-09-06"),
        ({"gpuVmSize": "Standard_NC6s_v3"}, "retired on 2025-09-30"),
        ({"gpuStack": "dedicated-image"}, "retired on 2025-01-10"),
        ({"gpuNodeTaints": ["sku=gpu:Sometimes"]}, "gpuNodeTaints"),
        ({"gpuMigProfile": "MIG1g"}, "MIG-capable"),
    ],
)
def test_bad_config_registers_nothing(overrides, fragment):
    with pytest.raises(SettingsError) as error:
        run_program(overrides)
    assert fragment in str(error.value)
    assert error.value.run.resources == []


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        run_program({"gpuVmSize": "Standard_NC6", "gpuPoolName": "GPU_Pool", "systemNodeCount": 0})
    keys = " ".join(error.value.problems)
    for key in ("aks-gpu:gpuVmSize", "aks-gpu:gpuPoolName", "aks-gpu:systemNodeCount"):
        assert key in keys
    assert json.dumps("GPU_Pool") in keys
