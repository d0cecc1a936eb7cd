"""Config values Azure or Kubernetes would refuse mid-`pulumi up` are refused by the settings, class by class.

Values are given as the engine hands them over: text, with lists as JSON text.
Each bad value must be refused with its key in the message; each valid neighbour
must still be accepted.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from aks_gpu.config.project import SHOWN_CHARS, SettingsError
from aks_gpu.config.settings import parse_settings

TODAY = date(2026, 11, 29)
DIGEST = "sha256:" + "0123456789abcdef" * 4


def parse(raw: dict, location: str | None = "eastus"):
    return parse_settings(raw, location=location, today=TODAY)


def refusal(raw: dict) -> str:
    with pytest.raises(SettingsError) as error:
        parse(raw)
    return "\n".join(error.value.problems)


def as_list(*items: str) -> str:
    return json.dumps(list(items))


# (class, config, a fragment of the expected refusal besides the key)
REFUSED = [
    # Node labels AKS reserves, Kubernetes rejects, duplicates, control characters.
    ("labels", {"gpuNodeLabels": as_list("node-role.kubernetes.io/gpu=true")}, "kubelet refuses"),
    ("labels", {"gpuNodeLabels": as_list("kubernetes.azure.com/mode=user")}, "AKS reserves"),
    ("labels", {"gpuNodeLabels": as_list("kubernetes.io/hostname=gpu-0")}, "sets this label"),
    ("labels", {"gpuNodeLabels": as_list("topology.kubernetes.io/zone=1")}, "sets this label"),
    ("labels", {"gpuNodeLabels": as_list("node-restriction.kubernetes.io/team=a")}, "NodeRestriction"),
    ("labels", {"gpuNodeLabels": as_list("example.k8s.io/team=a")}, "kubelet refuses"),
    ("labels", {"gpuNodeLabels": as_list("team=a", "team=b")}, "one value per key"),
    ("labels", {"gpuNodeLabels": as_list("team=a\n")}, "a line feed"),
    ("labels", {"gpuNodeLabels": as_list("team=a\u0000b")}, "U+0000"),
    # Taints AKS reserves, Kubernetes rejects (same key and effect twice), control characters.
    ("taints", {"gpuNodeTaints": as_list("sku=gpu:NoSchedule", "sku=cpu:NoSchedule")}, "one taint per key and effect"),
    ("taints", {"gpuNodeTaints": as_list("kubernetes.azure.com/scalesetpriority=spot:NoSchedule")}, "AKS reserves"),
    ("taints", {"gpuNodeTaints": as_list("node.kubernetes.io/unschedulable:NoSchedule")}, "own controllers"),
    ("taints", {"gpuNodeTaints": as_list("node-role.kubernetes.io/gpu:NoExecute")}, "own controllers"),
    ("taints", {"gpuNodeTaints": as_list("sku=gpu:NoSchedule\n")}, "a line feed"),
    ("taints", {"gpuNodeTaints": as_list("sku=g\tpu:NoSchedule")}, "a tab"),
    # Image references the distribution grammar rejects.
    ("images", {"devicePluginImage": "nvcr.io/NVIDIA/k8s-device-plugin:v0.18.0"}, "must be lowercase"),
    ("images", {"devicePluginImage": "nvcr.io/nvidia/k8s-device-plugin:v0.18.0\n"}, "a line feed"),
    ("images", {"devicePluginImage": "nvcr.io/nvidia/k8s-device-plugin@sha256:abc"}, "distribution grammar"),
    ("images", {"devicePluginImage": "https://nvcr.io/nvidia/k8s-device-plugin:v0.18.0"}, "distribution grammar"),
    # The plugin's name from a registry other than its publishers' (the socket mount is trusted to them only).
    ("images", {"devicePluginImage": f"myregistry.azurecr.io/mirror/nvidia/k8s-device-plugin@{DIGEST}"}, "mirrors"),
    ("images", {"devicePluginImage": "localhost:5000/k8s-device-plugin:v0.18.0"}, "other registries"),
    ("images", {"sampleJobImage": "mcr.microsoft.com/azuredocs/samples tf:gpu"}, "without spaces"),
    ("images", {"sampleJobImage": "mcr.microsoft.com/azuredocs/samples-tf-mnist-demo:gpu:latest"}, "grammar"),
    # Numbers that are not numbers, digits that are not ASCII, YAML's float trap.
    ("numbers", {"gpuSpot": "true", "gpuSpotMaxPrice": "nan"}, "not NaN or Infinity"),
    ("numbers", {"gpuSpot": "true", "gpuSpotMaxPrice": "inf"}, "not NaN or Infinity"),
    ("numbers", {"gpuSpot": "true", "gpuSpotMaxPrice": "1e400"}, "not NaN or Infinity"),
    ("numbers", {"gpuSpot": "true", "gpuSpotMaxPrice": "\uff10.\uff15"}, "digits 0-9"),
    ("numbers", {"gpuSpot": "true", "gpuSpotMaxPrice": "0.123456"}, "5 decimal places"),
    ("numbers", {"kubernetesVersion": "\uff11.\uff13\uff13"}, "ASCII digits"),
    ("numbers", {"kubernetesVersion": "1.3"}, 'quote it (kubernetesVersion: "1.30")'),
    ("numbers", {"kubernetesVersion": 1.3}, 'quote it (kubernetesVersion: "1.30")'),
    ("numbers", {"kubernetesVersion": "1.033"}, "without leading zeros"),
    ("numbers", {"gpuNodeCount": "\uff12"}, "whole number"),
    ("numbers", {"gpuNodeCount": "1_0"}, "whole number"),
    # VM sizes that are not NVIDIA GPU sizes AKS can run, or are retired, also with gpusPerNode.
    ("sizes", {"gpusPerNode": "8", "gpuVmSize": "Standard_ND96isr_MI300X_v5"}, "AMD"),
    ("sizes", {"gpusPerNode": "4", "gpuVmSize": "Standard_ND128isr_NDR_GB200_v6"}, "Arm64"),
    ("sizes", {"gpusPerNode": "4", "gpuVmSize": "Standard_ND128isr_GB300_v6"}, "Arm64"),
    ("sizes", {"gpusPerNode": "1", "gpuVmSize": "Standard_NG8ads_V620_v1"}, "AMD"),
    ("sizes", {"gpusPerNode": "1", "gpuVmSize": "Standard_NV12ads_V710_v5"}, "AMD"),
    ("sizes", {"gpusPerNode": "8", "gpuVmSize": "Standard_ND96isr_MI355X_v6"}, "AMD"),
    ("sizes", {"gpusPerNode": "1", "gpuVmSize": "Standard_NV6"}, "retired"),
    ("sizes", {"gpusPerNode": "1", "gpuVmSize": "Standard_NP10s"}, "FPGA"),
    ("sizes", {"systemVmSize": "Standard_B2s"}, "B-series"),
    # Namespaces every cluster already has, or that Kubernetes reserves.
    ("namespaces", {"gpuNamespace": "kube-system"}, "already has kube-system"),
    ("namespaces", {"gpuNamespace": "kube-public"}, "already has kube-public"),
    ("namespaces", {"gpuNamespace": "kube-node-lease"}, "already has kube-node-lease"),
    ("namespaces", {"gpuNamespace": "default"}, "already has default"),
    ("namespaces", {"gpuNamespace": "kube-gpu"}, "kube- prefix"),
    # Objects the API server or ARM would refuse for their size.
    ("object sizes", {"resourceGroupName": "g" * 50, "clusterName": "c" * 30}, "MC_<resourceGroupName>"),
    ("object sizes", {"clusterName": "c" * 63}, "MC_<resourceGroupName>"),
    ("object sizes", {"gpuNamespace": "n" * 64}, "DNS label"),
    ("object sizes", {"gpuNodeLabels": as_list("team=" + "v" * 64)}, "label syntax"),
    ("object sizes", {"gpuNodeLabels": as_list("a" * 254 + "/team=a")}, "label syntax"),
    ("object sizes", {"sampleJobArgs": as_list("x" * 70_000)}, "at most 65536 characters"),
    ("object sizes", {"gpuPoolName": "gpupoolnumber1"}, "1-12 lowercase"),
    # Structures that would blow up the parser.
    ("parser", {"gpuNodeTaints": "[" * 100_000 + "]" * 100_000}, "at most 65536 characters"),
    ("parser", {"gpuNodeLabels": "[" * 20_000 + "]" * 20_000}, "not nested more than"),
    ("parser", {"sampleJobArgs": "[" * 9 + "]" * 9}, "not nested more than"),
    ("parser", {"gpuNodeTaints": '{"a": ' * 1000 + "1" + "}" * 1000}, "not nested more than"),
    ("parser", {"sampleJobArgs": "[" * 30_000}, "not nested more than"),
    # Control characters in single values (the reader strips spaces, not these).
    ("control", {"gpuPoolName": "gpu\n"}, "a line feed"),
    ("control", {"gpuVmSize": "Standard_NC4as_T4_v3\r"}, "a carriage return"),
    ("control", {"gpuStack": "managed\u0000"}, "U+0000"),
    ("control", {"clusterName": "my\u200bcluster"}, "ZERO WIDTH SPACE"),
    ("control", {"sampleJobArgs": as_list("--max_steps", "5\u00000")}, "U+0000"),
]


def _key(config: dict) -> str:
    # The key whose value is wrong: the last one of the case (earlier ones only set the scene).
    return list(config)[-1]


@pytest.mark.parametrize(
    "config, fragment", [(c, f) for _, c, f in REFUSED], ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(REFUSED)]
)
def test_bad_value_is_refused_naming_its_key(config, fragment):
    message = refusal(config)
    key = _key(config)
    if key == "resourceGroupName":
        key = "clusterName"
    assert f"aks-gpu:{key} = " in message
    assert fragment in message


def test_every_class_has_at_least_five_cases():
    counts: dict[str, int] = {}
    for kind, _, _ in REFUSED:
        counts[kind] = counts.get(kind, 0) + 1
    assert all(n >= 5 for n in counts.values()), counts


ACCEPTED = [
    {"gpuNodeLabels": as_list("node.kubernetes.io/exclude-from-external-load-balancers=true")},
    {"gpuNodeLabels": as_list("kubelet.kubernetes.io/team=a", "example.com/team=a", "team=b")},
    {"gpuNodeLabels": as_list("team=a", "team=a")},
    {"gpuNodeTaints": as_list("nvidia.com/gpu:NoSchedule")},
    {"gpuNodeTaints": as_list("sku=gpu:NoSchedule", "sku=gpu:NoExecute")},
    {"gpuNodeTaints": as_list("sku=gpu:NoSchedule", "sku=gpu:NoSchedule")},
    {"devicePluginImage": f"nvcr.io/nvidia/k8s-device-plugin@{DIGEST}"},
    {"devicePluginImage": f"nvcr.io/nvidia/k8s-device-plugin:v0.18.0@{DIGEST}"},
    {"sampleJobImage": "ubuntu"},
    {"gpuSpot": "true", "gpuSpotMaxPrice": "0.12345"},
    {"gpuSpot": "true", "gpuSpotMaxPrice": "-1"},
    {"kubernetesVersion": "1.30"},
    {"kubernetesVersion": "1.33.2"},
    {"gpusPerNode": "8", "gpuVmSize": "Standard_ND96isr_H100_v5"},
    {"gpuNamespace": "kubeflow"},
    {"gpuNamespace": "n" * 63},
    {"resourceGroupName": "myResourceGroup", "clusterName": "myAKSCluster"},
    {"sampleJobArgs": as_list("--max_steps", "500", "multi\nline\targ")},
    {"gpuPoolName": "  gpu  "},
]


@pytest.mark.parametrize("config", ACCEPTED, ids=lambda c: ",".join(c))
def test_valid_neighbour_is_accepted(config):
    parse(config)


def test_a_native_list_nested_100000_deep_is_refused_without_a_traceback():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    message = refusal({"gpuNodeTaints": deep})
    assert "aks-gpu:gpuNodeTaints = " in message and "not nested more than" in message


def test_long_values_are_shortened_in_the_message():
    message = refusal({"devicePluginImage": "nvcr.io/NVIDIA/" + "x" * 500})
    line = next(line for line in message.splitlines() if "devicePluginImage" in line)
    assert "(515 characters)" in line
    assert "x" * (SHOWN_CHARS - 10) not in line


def test_yaml_float_version_is_explained():
    message = refusal({"kubernetesVersion": "1.2"})
    assert "YAML reads an unquoted 1.20 as the number 1.2" in message
