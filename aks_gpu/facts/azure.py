"""Azure and AKS facts outside the VM size catalog: API versions, feature flags, retirements.

Sources: azure-aks-docs aks-managed-gpu-nodes.md (managed GPU pools),
use-nvidia-gpu.md (the dedicated GPU image's retirement), the
Microsoft.ContainerService REST specification (agent pool API versions).
"""

from __future__ import annotations

from datetime import date

from aks_gpu.facts.gpu_models import MIG_LAYOUT

CONTAINER_SERVICE_NAMESPACE = "Microsoft.ContainerService"

# `gpuProfile.nvidia.managementMode` first appears in this agent pool API
# version; pulumi-azure-native 3.29 defaults to an older one, so the managed GPU
# pool is declared as a generic ARM resource pinned to it.
MANAGED_GPU_API_VERSION = "2026-08-01"
# The subscription feature that unlocks AKS-managed GPU pools while they are in preview.
MANAGED_GPU_FEATURE = "ManagedGPUExperiencePreview"
# aks-managed-gpu-nodes.md (ms.date 2025-10-30), "Before you begin": the feature
# "requires Kubernetes version 1.34 or later"; it applies to the cluster the pool joins.
MANAGED_GPU_MIN_KUBERNETES = (1, 34)

# The dedicated GPU image (custom header UseGPUDedicatedVHD) that the seed offers.
DEDICATED_GPU_IMAGE_RETIRED_ON = date(2025, 1, 10)

# AKS multi-instance GPU profiles of an agent pool (`gpuInstanceProfile`): those of the
# MIG layout, which also says what each one makes of a GPU.
MIG_PROFILES: tuple[str, ...] = tuple(MIG_LAYOUT)


def feature_registration_command() -> str:
    """The `az` commands that register the managed GPU feature once per subscription."""
    return (
        f"az feature register --namespace {CONTAINER_SERVICE_NAMESPACE} --name {MANAGED_GPU_FEATURE} && "
        f"az provider register --namespace {CONTAINER_SERVICE_NAMESPACE}"
    )
