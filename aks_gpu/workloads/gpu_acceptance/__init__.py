"""GPU node acceptance: one pod per GPU node measures every GPU (or MIG instance) at once and judges it.

The package runs inside the pod as `python3 -m gpu_acceptance` (the ConfigMap's files mounted at
`/scripts/gpu_acceptance`, `PYTHONPATH=/scripts`), in an image with CUDA PyTorch; it imports only the standard
library, torch (in the measuring processes) and, where present, pynvml. Its modules import one another
relatively, so the same files run as `aks_gpu.workloads.gpu_acceptance` in the tests.

What one run does on a node (`__main__.py`):
1. `health`: `nvidia-smi` before the load: GPU count, ECC mode and volatile uncorrectable errors, remapped rows
   pending or failed, retired pages pending, NVLink link state, other processes on the GPUs.
2. `measure`: one process per device, all at once behind a barrier (so the node's power and thermal envelope is
   loaded): dense matrix-multiply TFLOP/s, device copy GB/s, a short training run; then, one device at a time,
   pinned host-to-device and device-to-host GB/s. `nvidia-smi` is sampled meanwhile for clock event reasons,
   PCIe generation and width under load.
3. `multi`: on nodes of several whole GPUs, GPU-to-GPU copy GB/s for every ordered pair and a single-node NCCL
   all-reduce (torch.distributed, one process per GPU), bus bandwidth as nccl-tests defines it.
4. `judge`: each figure against the floor in the expectation (a calibrated reference times its tolerance, a
   published floor, or an uncalibrated datasheet share), each GPU against the node's median, health signals.
5. `report`: a compact table, one `AKS_GPU_ACCEPTANCE {json}` line per device and one
   `AKS_GPU_ACCEPTANCE_SUMMARY {json}` line for the node, with the measurement time.

Exit code 0: every device and node check passed; 1: one failed; 2: could not run (no GPU, bad expectation).

Environment variables:
  AKS_GPU_ACCEPTANCE_EXPECTATION  required JSON object, see `spec.parse_expectation`.
  NODE_NAME                       the node's name (downward API); only reported.
  NVIDIA_VISIBLE_DEVICES          GPU/MIG UUIDs from the device plugin; if unset, "all", "void" or "none": the
      UUIDs in `nvidia-smi -L`, else torch's device indices.
  AKS_GPU_ACCEPTANCE_TIMEOUT_S    seconds allowed for each stage (default 900).
  AKS_GPU_ACCEPTANCE_DEVICE       "cuda" (default) or "cpu": the tests run the whole flow on the CPU with gloo.
"""

from __future__ import annotations

# The markers that start the result lines (then one space and a JSON object); the verifier imports them.
RECORD_MARKER = "AKS_GPU_ACCEPTANCE"
SUMMARY_MARKER = "AKS_GPU_ACCEPTANCE_SUMMARY"
EXPECTATION_ENV = "AKS_GPU_ACCEPTANCE_EXPECTATION"
DEVICE_ENV = "AKS_GPU_ACCEPTANCE_DEVICE"
TIMEOUT_ENV = "AKS_GPU_ACCEPTANCE_TIMEOUT_S"
EXIT_PASSED, EXIT_FAILED, EXIT_NOT_RUN = 0, 1, 2  # every check passed; a check failed; could not run

# The checks with a figure, their units, and whether they belong to a device or to the node.
DEVICE_CHECKS = ("matmul", "copy", "h2d", "d2h", "p2p")
NODE_CHECKS = ("allreduce",)
UNITS = {"matmul": "TFLOP/s", "copy": "GB/s", "h2d": "GB/s", "d2h": "GB/s", "p2p": "GB/s", "allreduce": "GB/s"}

__all__ = [
    "DEVICE_CHECKS",
    "DEVICE_ENV",
    "EXIT_FAILED",
    "EXIT_NOT_RUN",
    "EXIT_PASSED",
    "EXPECTATION_ENV",
    "NODE_CHECKS",
    "RECORD_MARKER",
    "SUMMARY_MARKER",
    "TIMEOUT_ENV",
    "UNITS",
]
