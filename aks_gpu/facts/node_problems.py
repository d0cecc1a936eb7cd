"""Node conditions AKS's Node Problem Detector sets on GPU nodes (standard library only).

Source: learn.microsoft.com/azure/aks/node-problem-detector ("Node conditions", compute type "GPU only") and
learn.microsoft.com/azure/aks/gpu-health-monitoring. NPD sets them on pools whose GPU driver AKS installs
(not with `--gpu-driver none`); a condition with status "True" is a detected problem. XID errors live in the
node's kernel log, which no unprivileged pod reads: this condition is the acceptance test's only view of them.
"""

from __future__ import annotations

NPD_GPU_CONDITIONS: tuple[str, ...] = (
    "GPUMissing",  # nvidia-smi counts fewer GPUs than the VM size has
    "NVLinkStatusInactive",
    "XIDErrors",  # XID errors in the kernel log
    "IBLinkFlapping",  # intermittent InfiniBand link
    "GPUClockThrottling",  # problematic GPU clock throttling
    "UnhealthyNvidiaDevicePlugin",
)
"""Condition types that fail a node in the acceptance test when their status is "True"."""
