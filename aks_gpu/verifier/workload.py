"""A workload Job's whole check: wait for it with diagnosis, then read its result.

Used by the stack's result checks (`components.checks`) and by
`aks-gpu-verify --job`. `Workload` names the two readers: the GPU acceptance
test's verdicts (`acceptance_result`) and the MNIST sample's log (`job_result`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import kubernetes.client

from aks_gpu.verifier.acceptance_result import read_acceptance_result
from aks_gpu.verifier.cluster_watch import PROGRESS_SECONDS
from aks_gpu.verifier.job_result import read_job_result
from aks_gpu.verifier.job_wait import wait_for_job

Workload = Literal["acceptance", "mnist"]


def wait_and_read(
    api: kubernetes.client.ApiClient,
    workload: Workload,
    namespace: str,
    job_name: str,
    timeout: float,
    *,
    plugin_namespace: str | None = None,
    node_selector: str | None = None,
    progress: Callable[[str], None] | None = None,
    progress_every: float = PROGRESS_SECONDS,
) -> dict[str, Any]:
    """Wait up to `timeout` seconds for the Job to complete, then read its result (JSON-ready).

    Raises what `job_wait.wait_for_job` raises (DiagnosedFault, JobTimeoutError,
    ClusterAccessError), and for the acceptance test AcceptanceError naming the
    node and GPU that fell short.
    """
    wait_for_job(
        api,
        namespace,
        job_name,
        timeout,
        plugin_namespace=plugin_namespace,
        node_selector=node_selector,
        progress=progress,
        progress_every=progress_every,
    )
    if workload == "acceptance":
        return read_acceptance_result(api, namespace, job_name)
    return read_job_result(api, namespace, job_name)
