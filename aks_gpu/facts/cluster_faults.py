"""What the cluster says when a GPU pool is stuck: the words to look for, what they mean, what to do next.

One home for the signatures that `aks_gpu.verifier.diagnosis` matches in the
cluster's own text: the last lines of a crashed container's log, a registry's
answer to an image pull, the scheduler's and the cluster autoscaler's reasons,
and the GPU node conditions of AKS's node problem detector.

Sources:
- NVIDIA/k8s-device-plugin `internal/rm/nvml_manager.go`, `cmd/nvidia-device-plugin/main.go`
  (v0.17 .. v0.20): "Failed to initialize NVML", "could not load NVML library",
  "No devices found. Waiting indefinitely.", "Incompatible strategy detected";
  Azure/AKS#5869 (a node image whose kernel module and user-space driver differ:
  `Failed to initialize NVML: Driver/library version mismatch`).
- NVIDIA CUDA runtime error strings ("CUDA driver version is insufficient for CUDA
  runtime version", "no kernel image is available for execution on the device").
- containerd / kubelet pull errors ("failed to pull and unpack image ...: 429 Too Many
  Requests", "toomanyrequests", "manifest unknown", "401 Unauthorized"); Docker Hub's
  pull-rate-limit documentation (docs.docker.com/docker-hub/usage/).
- kube-scheduler's FailedScheduling messages ("0/3 nodes are available: 3 Insufficient
  nvidia.com/gpu", "untolerated taint", "didn't match Pod's node affinity/selector").
- kubernetes/autoscaler FAQ, "pod didn't trigger scale-up" reasons of NotTriggerScaleUp
  events ("max node group size reached", "in backoff after failed scale-up", "Insufficient").
- learn.microsoft.com azure/aks/node-problem-detector: GPU-only node conditions
  GPUMissing, NVLinkStatusInactive, XIDErrors, IBLinkFlapping, GPUClockThrottling,
  UnhealthyNvidiaDevicePlugin (managed GPU pools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SignatureKind = Literal["log", "image-pull", "scheduling", "node-condition"]


@dataclass(frozen=True)
class Signature:
    """Text the cluster shows for one known fault (`needle`, found case-insensitively), its cause and next step."""

    kind: SignatureKind
    needle: str
    cause: str
    next_step: str


def _log(needle: str, cause: str, next_step: str) -> Signature:
    return Signature("log", needle, cause, next_step)


# First match wins: the more specific text comes first.
LOG_SIGNATURES: tuple[Signature, ...] = (
    _log(
        "Driver/library version mismatch",
        "the node's NVIDIA kernel module and its user-space driver library are different versions "
        "(typically a node image upgrade that replaced one without the other, Azure/AKS#5869)",
        "reimage or restart the GPU nodes (`az aks nodepool upgrade --node-image-only`), or pin the "
        "previous node image until AKS ships a fixed one",
    ),
    _log(
        "could not load NVML library",
        "the container cannot find libnvidia-ml.so: no NVIDIA driver is installed on the node, or the "
        "NVIDIA container runtime is not the node's default runtime",
        "check the pool's GPU driver setting (gpuProfile.driver Install) and that the node image is a GPU image",
    ),
    _log(
        "libnvidia-ml.so",
        "the container cannot load the NVIDIA management library: no NVIDIA driver on the node",
        "check the pool's GPU driver setting (gpuProfile.driver Install) and that the node image is a GPU image",
    ),
    _log(
        "No devices found",
        "the device plugin runs but sees no GPU: the node has no GPU, the driver did not load, or MIG is "
        "enabled with a strategy that hides its instances",
        "check the node's VM size and `nvidia-smi` on the node; with MIG set the plugin's MIG strategy",
    ),
    _log(
        "Incompatible strategy detected",
        "the device plugin's MIG strategy does not fit the node's GPUs (single needs every GPU in one MIG profile)",
        "use the mixed strategy, or give every GPU of the pool the same MIG profile",
    ),
    _log(
        "Failed to initialize NVML",
        "the NVIDIA management library could not start in the container (driver missing, not loaded, "
        "or the container has no access to the GPU devices)",
        "check the driver on the node (`nvidia-smi`) and that the plugin runs with the NVIDIA runtime",
    ),
    _log(
        "CUDA driver version is insufficient",
        "the workload's CUDA runtime is newer than the node's NVIDIA driver",
        "use an image built for the node's CUDA version, or a node image with a newer driver",
    ),
    _log(
        "no kernel image is available for execution on the device",
        "the workload image was not built for this GPU's architecture (e.g. an old CUDA build on H100)",
        "use an image built for the GPU's compute capability",
    ),
    _log(
        "out of memory",
        "the container ran out of GPU or host memory",
        "lower the workload's batch size or memory use, or raise its memory limit",
    ),
)


def _pull(needle: str, cause: str, next_step: str) -> Signature:
    return Signature("image-pull", needle, cause, next_step)


PULL_SIGNATURES: tuple[Signature, ...] = (
    _pull(
        "429 Too Many Requests",
        "the registry refuses more pulls: its pull rate limit is reached (Docker Hub limits anonymous pulls)",
        "mirror the image into an Azure Container Registry attached to the cluster, or pull with credentials",
    ),
    _pull(
        "toomanyrequests",
        "the registry refuses more pulls: its pull rate limit is reached (Docker Hub limits anonymous pulls)",
        "mirror the image into an Azure Container Registry attached to the cluster, or pull with credentials",
    ),
    _pull(
        "manifest unknown",
        "the image's tag or digest does not exist in the registry",
        "correct the image reference (tag or digest) in the stack's configuration",
    ),
    _pull(
        "not found",
        "the registry does not have this image or tag",
        "correct the image reference (tag or digest) in the stack's configuration",
    ),
    _pull(
        "unauthorized",
        "the registry refuses the node's credentials for this image",
        "attach the registry to the cluster (`az aks update --attach-acr`) or add an imagePullSecret",
    ),
    _pull(
        "403 Forbidden",
        "the registry refuses the node's credentials for this image",
        "attach the registry to the cluster (`az aks update --attach-acr`) or add an imagePullSecret",
    ),
    _pull(
        "no such host",
        "the node cannot resolve the registry's name (DNS or egress rules)",
        "allow the registry in the cluster's egress firewall, or use a registry the nodes can reach",
    ),
    _pull(
        "i/o timeout",
        "the node cannot reach the registry (egress blocked or the registry is down)",
        "allow the registry in the cluster's egress firewall, or use a registry the nodes can reach",
    ),
)


def _scheduling(needle: str, cause: str, next_step: str) -> Signature:
    return Signature("scheduling", needle, cause, next_step)


SCHEDULING_SIGNATURES: tuple[Signature, ...] = (
    _scheduling(
        "max node group size reached",
        "the GPU pool is at its maximum node count",
        "raise the pool's maximum node count, or ask for fewer GPUs",
    ),
    _scheduling(
        "in backoff after failed scale-up",
        "an earlier scale-up of the pool failed (often no quota or no capacity for the VM size in the region)",
        "check the pool's scale-up errors (`az aks nodepool show`), the GPU quota and the region's capacity",
    ),
    _scheduling(
        "Insufficient nvidia.com/mig-",
        "no node (nor the autoscaler's template node for a new one) offers the MIG slices the pod asks for; "
        "from zero the autoscaler's template node has whole GPUs and no MIG resources",
        "keep at least one node in a MIG pool (minimum count 1), or ask for what one node offers",
    ),
    _scheduling(
        "Insufficient nvidia.com/",
        "no node (nor a new node of the pool) has as many free GPUs as the pod asks for",
        "ask for at most the GPUs one node of the pool has, or add nodes to the pool",
    ),
    _scheduling(
        "untolerated taint",
        "the pod does not tolerate a taint of the nodes it could run on",
        "add the pool's taints to the pod's tolerations",
    ),
    _scheduling(
        "didn't match Pod's node affinity/selector",
        "no node matches the pod's node selector or affinity",
        "check that the pod selects the GPU pool by its agentpool label",
    ),
)

# AKS node problem detector's GPU conditions: status True means the problem is there.
GPU_NODE_CONDITIONS: dict[str, str] = {
    "GPUMissing": "the node sees fewer GPUs than its VM size has (a GPU fell off the bus or failed)",
    "XIDErrors": "the NVIDIA driver logged XID errors in the kernel log (a GPU or driver fault)",
    "NVLinkStatusInactive": "an NVLink between the node's GPUs is down",
    "IBLinkFlapping": "the node's InfiniBand link keeps dropping",
    "GPUClockThrottling": "the GPUs' clocks are throttled (power or thermal limits)",
    "UnhealthyNvidiaDevicePlugin": "the AKS-managed NVIDIA device plugin service is not active on the node",
}
GPU_NODE_CONDITION_STEP = (
    "cordon the node and let AKS repair or replace it (`az aks machine` / node auto-repair), "
    "or delete the node so the pool brings up a fresh one"
)


def find_signature(text: str, signatures: tuple[Signature, ...]) -> Signature | None:
    """The first signature whose needle occurs in `text` (case-insensitive), or None."""
    lowered = text.lower()
    return next((entry for entry in signatures if entry.needle.lower() in lowered), None)
