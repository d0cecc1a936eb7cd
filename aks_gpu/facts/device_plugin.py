"""The NVIDIA device plugin as Kubernetes sees it.

Sources: NVIDIA/k8s-device-plugin deployments/static/nvidia-device-plugin.yml
(v0.18.0 .. v0.20.0) and the AKS GPU how-to (use-nvidia-gpu.md).
"""

from __future__ import annotations

import re
from typing import Literal, get_args

# The name NVIDIA's manifests and the AKS docs give the DaemonSet and its pods.
NAME = "nvidia-device-plugin"
# The kubelet's device-plugin socket directory: the one hostPath the plugin needs.
SOCKET_DIR = "/var/lib/kubelet/device-plugins"
# The seed walkthrough's image, kept reachable through the `devicePluginImage` config key.
SEED_IMAGE = "mcr.microsoft.com/oss/nvidia/k8s-device-plugin:1.11"
# Recognises the plugin's image wherever it is mirrored, tagged or by digest
# (nvcr.io/nvidia/k8s-device-plugin:v0.18.0, the seed's image, a private mirror).
IMAGE_PATTERN = re.compile(r"(^|/)k8s-device-plugin(:|@|\Z)")


def is_device_plugin_image(image: str) -> bool:
    """Whether a container image reference names the NVIDIA device plugin."""
    return IMAGE_PATTERN.search(image) is not None


# --- MIG (NVIDIA/k8s-device-plugin README and deployments/helm, v0.18.0 .. v0.20.0) -------
# The environment variable that selects the plugin's MIG strategy; its default, `none`,
# advertises whole GPUs that no pod can use on a MIG node.
MIG_STRATEGY_ENV = "MIG_STRATEGY"
# The strategies that expose MIG instances: one nvidia.com/gpu per instance, or nvidia.com/mig-<slice>.
MigStrategy = Literal["single", "mixed"]
MIG_STRATEGIES: tuple[MigStrategy, ...] = get_args(MigStrategy)
# With a MIG strategy NVIDIA's chart also sets this variable and adds this capability,
# so the plugin can watch the MIG devices of every GPU.
MIG_MONITOR_ENV = ("NVIDIA_MIG_MONITOR_DEVICES", "all")
MIG_CAPABILITY = "SYS_ADMIN"
# Helm chart names that install the plugin: NVIDIA's own chart, and the GPU Operator,
# which runs the plugin unless its values say `devicePlugin.enabled: false`.
HELM_CHART = NAME
GPU_OPERATOR_CHART = "gpu-operator"

# Where the device plugin's pods run: the stack's namespace (Pulumi.yaml's `gpuNamespace`
# default; tests/repo keeps the two in step), or, with the AKS-managed GPU stack, the
# namespace AKS runs its own plugin in (learn.microsoft.com azure/aks/aks-managed-gpu-nodes).
STACK_NAMESPACE = "gpu-resources"
MANAGED_NAMESPACE = "kube-system"
