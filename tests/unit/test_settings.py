"""Validation of each config key, without the Pulumi engine."""

from __future__ import annotations

import json
from datetime import date

import pytest

from aks_gpu.config.gpu_pool import MANAGED_STACK
from aks_gpu.config.project import SettingsError, declared_default, declared_keys
from aks_gpu.config.settings import parse_settings
from aks_gpu.facts import vm_sizes
from aks_gpu.facts.kubernetes import SPOT_TAINT, Taint

TODAY = date(2026, 11, 29)


def parse(location: str | None = "eastus", today: date = TODAY, **raw):
    return parse_settings(raw, location=location, today=today)


def problems(**raw) -> str:
    location = raw.pop("location", "eastus")
    with pytest.raises(SettingsError) as error:
        parse(location=location, **raw)
    return "\n".join(error.value.problems)


def test_defaults_give_the_seed_scenario_on_current_azure():
    settings = parse()
    assert settings.gpu_pool.vm_size == declared_default("gpuVmSize") == "Standard_NC4as_T4_v3"
    assert settings.gpu_pool.gpus_per_node == 1 and settings.gpu_pool.expected_gpus == 1
    assert settings.gpu_pool.taints == (Taint("sku", "gpu", "NoSchedule"),)
    assert settings.gpu_pool.node_taints == (Taint("sku", "gpu", "NoSchedule"),)
    assert settings.workloads.namespace == "gpu-resources"
    assert settings.workloads.sample_job_args == ("--max_steps", "500")
    assert settings.gpu_pool.installs_device_plugin and settings.gpu_pool.autoscale is None
    assert settings.verification.timeout_seconds == 1200


def test_engine_strings_are_converted():
    settings = parse(gpuNodeCount="3", gpuSpot="true", gpuSpotMaxPrice="0.25", gpuNodeLabels='["a=b"]')
    assert settings.gpu_pool.node_count == 3 and settings.gpu_pool.spot and settings.gpu_pool.spot_max_price == 0.25
    assert settings.gpu_pool.labels == {"a": "b"}
    assert settings.gpu_pool.expected_gpus == 3


def test_vm_size_lookup_is_case_insensitive_and_canonicalised():
    assert parse(gpuVmSize="standard_nc64as_t4_v3").gpu_pool.vm_size == "Standard_NC64as_T4_v3"
    assert parse(gpuVmSize="Standard_NC64as_T4_v3").gpu_pool.expected_gpus == 4


@pytest.mark.parametrize(
    "size, retired, successor",
    [
        ("Standard_NC6", "2023-09-06", "NC4as_T4_v3"),
        ("Standard_NC6s_v2", "2023-09-06", "A100"),
        ("Standard_NC24rs_v3", "2025-09-30", "H100"),
        ("Standard_NV12s_v3", "2026-09-30", "NV36ads_A10_v5"),
    ],
)
def test_retired_sizes_are_refused_with_date_and_successor(size, retired, successor):
    message = problems(gpuVmSize=size)
    assert f'aks-gpu:gpuVmSize = "{size}"' in message
    assert retired in message and successor in message


def test_retirement_follows_the_region():
    # NCv3 lives on in US Gov regions until 2026-12-31.
    assert parse(location="usgovvirginia", gpuVmSize="Standard_NC6s_v3").gpu_pool.gpus_per_node == 1
    with pytest.raises(SettingsError, match="2026-12-31 in usgovvirginia"):
        parse(location="usgovvirginia", today=date(2027, 1, 1), gpuVmSize="Standard_NC6s_v3")
    with pytest.raises(SettingsError, match="2025-09-30"):
        parse(location="eastus", gpuVmSize="Standard_NC6s_v3")


def test_unknown_and_unsupported_sizes():
    assert "N-series GPU VM size" in problems(gpuVmSize="Standard_D4s_v5")
    assert "AMD" in problems(gpuVmSize="Standard_NV8as_v4")
    assert "fractional" in problems(gpuVmSize="Standard_NV6ads_A10_v5")
    # A size newer than the catalog is accepted once its GPU count is given, with the
    # MNIST job: the acceptance test needs the catalog's datasheet figures.
    newer = "Standard_NC128ds_xl_RTXPRO6000BSE_v6"
    assert "set gpusPerNode" in problems(gpuVmSize=newer, sampleWorkload="mnist")
    assert parse(gpuVmSize=newer, gpusPerNode=2, sampleWorkload="mnist").gpu_pool.expected_gpus == 2
    assert "datasheet figures" in problems(gpuVmSize=newer, gpusPerNode=2)
    assert "sampleWorkload" in problems(gpuVmSize=newer, gpusPerNode=2)
    assert "0 or 1" in problems(gpusPerNode=2)


def test_autoscaler_settings():
    settings = parse(gpuMinCount=0, gpuMaxCount=4)
    assert (settings.gpu_pool.autoscale.min_count, settings.gpu_pool.autoscale.max_count) == (0, 4)
    assert settings.gpu_pool.expected_gpus == 0
    assert parse(gpuMinCount=2, gpuMaxCount=4).gpu_pool.expected_gpus == 2
    assert "at most gpuMaxCount (2)" in problems(gpuMinCount=3, gpuMaxCount=2)
    assert "unless gpuMaxCount is set" in problems(gpuMinCount=2)
    # AKS-managed pools take the autoscaler (aks-managed-gpu-nodes.md creates one with it) ...
    assert parse(gpuStack=MANAGED_STACK, gpuMinCount=1, gpuMaxCount=3).gpu_pool.autoscale.max_count == 3
    # ... multi-instance GPU pools do not (gpu-multi-instance.md), from zero or not.
    for low in (0, 1):
        text = problems(gpuVmSize="Standard_NC24ads_A100_v4", gpuMigProfile="MIG1g", gpuMinCount=low, gpuMaxCount=3)
        assert "aks-gpu:gpuMaxCount = 3" in text and "multi-instance GPU pools" in text and "gpuNodeCount" in text


def test_a_new_cluster_older_than_1_34_takes_no_managed_pool():
    text = problems(gpuStack=MANAGED_STACK, kubernetesVersion="1.33")
    assert 'aks-gpu:kubernetesVersion = "1.33"' in text and "1.34 or later for gpuStack: managed" in text
    assert parse(gpuStack=MANAGED_STACK, kubernetesVersion="1.34.1").gpu_pool.managed_gpu
    assert parse(kubernetesVersion="1.33").cluster.kubernetes_version == "1.33"


def test_spot_settings():
    settings = parse(gpuSpot=True)
    assert settings.gpu_pool.node_taints == (Taint("sku", "gpu", "NoSchedule"), SPOT_TAINT)
    assert "unless gpuSpot is true" in problems(gpuSpotMaxPrice="0.5")
    assert "above 0" in problems(gpuSpot=True, gpuSpotMaxPrice="0")
    assert "a number" in problems(gpuSpot=True, gpuSpotMaxPrice="cheap")


def test_gen2_and_mig():
    assert parse(gpuGen2=True).gpu_pool.gen2
    assert "Generation 1" in problems(gpuGen2=True, gpuVmSize="Standard_NC12")
    assert parse(gpuVmSize="Standard_NC24ads_A100_v4", gpuMigProfile="MIG3g").gpu_pool.mig_profile == "MIG3g"
    assert "MIG-capable" in problems(gpuMigProfile="MIG1g")
    assert "MIG1g, MIG2g" in problems(gpuVmSize="Standard_NC24ads_A100_v4", gpuMigProfile="MIG5g")


def test_gpu_stack_choices():
    assert parse(gpuStack=MANAGED_STACK).gpu_pool.installs_device_plugin is False
    assert "one of device-plugin, managed" in problems(gpuStack="operator")
    message = problems(gpuStack="dedicated-image")
    assert "UseGPUDedicatedVHD" in message and "2025-01-10" in message and "managed" in message
    assert "only gpuStack: managed" in problems(registerPreviewFeatures=True)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("gpuNodeTaints", '["sku=gpu"]', "key=value:Effect"),
        ("gpuNodeTaints", '["sku=gpu:Never"]', "NoSchedule"),
        ("gpuNodeTaints", "sku=gpu:NoSchedule", "list of strings"),
        ("gpuNodeLabels", '["novalue"]', "key=value"),
        ("gpuNodeLabels", '["kubernetes.azure.com/mine=x"]', "reserves"),
        ("gpuPoolName", "GPU", "lowercase"),
        ("gpuPoolName", "gpupoolnametoolong", "1-12"),
        ("clusterName", "-bad", "starting and ending"),
        ("resourceGroupName", "ends.", "not ending in '.'"),
        ("kubernetesVersion", "latest", "MAJOR.MINOR"),
        ("gpuNamespace", "GPU_Resources", "namespace"),
        ("systemNodeCount", "0", "1 to 1000"),
        ("gpuNodeCount", "many", "1 to 1000"),
        ("verifyTimeoutSeconds", "5", "60 to 7200"),
        ("sampleJob", "yes", "true or false"),
        ("sampleJobArgs", "[1, 2]", "list of strings"),
        ("devicePluginImage", "nvcr.io/nvidia/k8s device plugin", "image"),
    ],
)
def test_each_bad_value_names_key_value_and_what_is_allowed(key, value, fragment):
    message = problems(**{key: value})
    assert f"aks-gpu:{key} = " in message
    # A bad list item is quoted on its own, so the user sees which one.
    shown = json.loads(value)[0] if value.startswith('["') else value
    assert json.dumps(shown) in message
    assert fragment in message


def test_existing_cluster_rules():
    settings = parse(location=None, existingClusterName="prod", existingClusterResourceGroup="prod-rg")
    assert settings.cluster.existing.name == "prod"
    assert "existingClusterResourceGroup is empty" in problems(existingClusterName="prod")
    assert "not both" in problems(existingClusterName="prod", existingClusterResourceGroup="rg", clusterName="x")
    assert "azure-native:location is not set" in problems(location=None)


def test_unknown_keys_are_refused_with_the_nearest_or_the_list_of_known_ones():
    message = problems(gpuCount=2)
    assert "aks-gpu:gpuCount is not a setting" in message and "did you mean `gpuMinCount`?" in message
    message = problems(zzzz=2)
    assert "aks-gpu:zzzz is not a setting" in message and "gpuNodeCount" in message


def test_all_problems_are_reported_together():
    with pytest.raises(SettingsError) as error:
        parse(gpuVmSize="Standard_NC6", gpuPoolName="Bad", gpuNamespace="Bad_NS", systemNodeCount=0)
    assert len(error.value.problems) == 4
    assert "nothing was created" in str(error.value)


def test_every_declared_key_is_read():
    # parse_settings refuses keys it does not know, so reading every declared key
    # with its default proves that Pulumi.yaml and the parser agree.
    parse(**{key: spec["default"] for key, spec in declared_keys().items()})


@pytest.mark.parametrize(
    "size, gpus",
    [
        ("Standard_ND96asr_v4", 8),
        ("Standard_ND96amsr_A100_v4", 8),
        ("Standard_ND96isr_H100_v5", 8),
        ("Standard_ND96isr_H200_v5", 8),
    ],
)
def test_nd_sizes_need_no_gpus_per_node(size, gpus):
    pool = parse(gpuVmSize=size, gpuNodeCount=2).gpu_pool
    assert (pool.gpus_per_node, pool.expected_gpus) == (gpus, 2 * gpus)
    assert vm_sizes.find_gpu_vm_size(size).gpu is not None
    assert "0 or 8" in problems(gpuVmSize=size, gpusPerNode=4)


# An empty value is refused by the one rule for empty strings (tests/unit/test_unknown_keys.py).
@pytest.mark.parametrize("value", ["mnst", "ACCEPTANCE", "tensorflow"])
def test_sample_workload_is_one_of_two(value):
    message = problems(sampleWorkload=value)
    assert f'aks-gpu:sampleWorkload = "{value}"' in message and "acceptance, mnist" in message


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "nan", "inf", "half"])
def test_acceptance_fraction_is_a_share(value):
    assert "aks-gpu:acceptanceMinFraction" in problems(acceptanceMinFraction=value)


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/library/busybox:1.36",
        "nvcr.io/nvidia/k8s-device-plugin-fork:v1",
        "k8s-device-plugin-x",
        # Named like the plugin, but from a registry anyone (or an unknown mirror) can push to.
        "docker.io/someone/k8s-device-plugin:v0.18.0",
        "myacr.azurecr.io/mirror/k8s-device-plugin:v0.18.0",
        "localhost:5000/k8s-device-plugin:v0.18.0",
        "nvcr.io/someone/k8s-device-plugin:v0.18.0",
    ],
)
def test_the_device_plugin_image_must_be_the_device_plugin_from_its_publishers(image):
    message = problems(devicePluginImage=image)
    assert f'aks-gpu:devicePluginImage = "{image}"' in message and "k8s-device-plugin" in message


@pytest.mark.parametrize(
    "image",
    [
        "nvcr.io/nvidia/k8s-device-plugin:v0.20.0",
        "mcr.microsoft.com/oss/nvidia/k8s-device-plugin:1.11",
        "nvcr.io/nvidia/k8s-device-plugin@sha256:" + "b" * 64,
        "nvcr.io/nvidia/k8s-device-plugin:v0.18.0@sha256:" + "b" * 64,
    ],
)
def test_the_publishers_device_plugin_images_are_accepted(image):
    assert parse(devicePluginImage=image).workloads.device_plugin_image == image


def test_acceptance_references_are_check_value_pairs():
    settings = parse(acceptanceReferences=["matmul=24.5", " copy = 250"])
    assert settings.workloads.acceptance_references == {"matmul": 24.5, "copy": 250.0}
    assert parse().workloads.acceptance_references == {}


@pytest.mark.parametrize(
    "item", ["speed=5", "matmul", "matmul=fast", "matmul=-1", "matmul=nan", "matmul=inf", "=3", "copy=1e9"]
)
def test_bad_acceptance_references_are_named(item):
    message = problems(acceptanceReferences=[item])
    assert "aks-gpu:acceptanceReferences" in message and repr(item)[1:-1] in message
    assert "check one of matmul, copy, h2d, d2h, p2p, allreduce" in message


def test_an_acceptance_reference_given_twice_is_refused():
    assert "each check once" in problems(acceptanceReferences=["matmul=24", "matmul=25"])
