"""Proof that a cluster's GPUs are there, with the official `kubernetes` client only.

A deployment can finish "green" while the NVIDIA device plugin never registered
a GPU (it does not tolerate a taint, the driver did not install, ...). This
subpackage waits until the allocatable GPUs of the GPU nodes that pods can
use (Ready, schedulable, free of node-lifecycle taints) add up to the expected
count and reports what each node advertises and why a node does not count; it
reads the sample Job's result from its pod log as well. It never imports pulumi: it runs inside
the stack's dynamic providers and, as `aks-gpu-verify`, in pipelines.

Modules, one concern each: `kubeconfig` (an API client built in memory),
`waiter` (list then watch nodes), `watch_stream` (watch lines to events),
`usability` (whether a pod can use a node), `report` (what the nodes
advertise), `messages` (the timeout message), `errors`, `job_result` (the
sample Job's log), `cli` (the command).
"""

from aks_gpu.verifier.errors import ClusterAccessError, GpuTimeoutError, VerificationError
from aks_gpu.verifier.job_result import parse_sample_log, read_job_result
from aks_gpu.verifier.kubeconfig import api_client_from_kubeconfig
from aks_gpu.verifier.messages import USUAL_CAUSES
from aks_gpu.verifier.report import GpuNode, GpuReport
from aks_gpu.verifier.retry import Backoff
from aks_gpu.verifier.waiter import DEFAULT_SELECTOR, GpuWaiter, wait_for_gpus

__all__ = [
    "DEFAULT_SELECTOR",
    "USUAL_CAUSES",
    "Backoff",
    "ClusterAccessError",
    "GpuNode",
    "GpuReport",
    "GpuTimeoutError",
    "GpuWaiter",
    "VerificationError",
    "api_client_from_kubeconfig",
    "parse_sample_log",
    "read_job_result",
    "wait_for_gpus",
]
