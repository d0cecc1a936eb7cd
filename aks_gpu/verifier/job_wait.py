"""Wait for a workload Job (the acceptance test, the MNIST sample) to complete, diagnosing on the way.

Instead of an hour-long generic await, `wait_for_job` watches the Job, its
pods, their events, the device plugin's pods and the GPU nodes
(`cluster_watch.ClusterWatch`), reports progress every half minute, and ends
as soon as the Job completes, fails, or the cluster names a cause that waiting
cannot cure. Reading the finished Job's result is the readers' job
(`job_result`, `acceptance_result`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import kubernetes.client

from aks_gpu.verifier.cluster_watch import PROGRESS_SECONDS, ClusterWatch, WatchPlan, format_elapsed
from aks_gpu.verifier.diagnosis import SCHEDULING_GRACE_SECONDS
from aks_gpu.verifier.errors import ClusterAccessError, DiagnosedFault, VerificationError
from aks_gpu.verifier.retry import Deadline, without_hidden_retries

# The longest a quiet wait blocks before it looks at the deadline again.
POLL_SECONDS = 1.0


class JobTimeoutError(VerificationError):
    """The Job did not complete in time and nothing definitive was diagnosed; str() says what the pods did."""


@dataclass(frozen=True)
class JobOutcome:
    """A completed Job: where, and how long the wait took (seconds)."""

    namespace: str
    name: str
    waited_seconds: float


def wait_for_job(
    api: kubernetes.client.ApiClient,
    namespace: str,
    job_name: str,
    timeout: float,
    *,
    plugin_namespace: str | None = None,
    node_selector: str | None = None,
    progress: Callable[[str], None] | None = None,
    progress_every: float = PROGRESS_SECONDS,
    scheduling_grace: float = SCHEDULING_GRACE_SECONDS,
) -> JobOutcome:
    """Wait until Job `namespace/job_name` completes; returns when its Complete condition is True.

    Raises DiagnosedFault (the Job failed, or the cluster named a cause: see
    `diagnosis`), ClusterAccessError when the Job may not be read (401/403), and
    JobTimeoutError when `timeout` seconds pass first.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    report = progress or (lambda line: None)
    without_hidden_retries(api)
    what = f"Job {namespace}/{job_name}"
    plan = WatchPlan(plugin_namespace, namespace, job_name, node_selector)
    started = time.monotonic()
    with ClusterWatch(
        api,
        plan,
        progress=report,
        awaiting=lambda: f"{what} to complete",
        progress_every=progress_every,
        scheduling_grace=scheduling_grace,
    ) as watch:
        report(f"Waiting up to {timeout:g}s for {what} to complete")
        deadline = Deadline(timeout, time.monotonic)
        while True:
            verdict = watch.verdict
            if verdict is not None:
                raise DiagnosedFault(verdict.message(), verdict)
            if watch.refusal is not None:
                raise ClusterAccessError(f"The kubeconfig's identity {watch.refusal}: it needs list and watch on jobs.")
            if watch.job_done:
                return JobOutcome(namespace, job_name, time.monotonic() - started)
            if deadline.remaining() <= 0:
                raise JobTimeoutError(_timeout_message(what, timeout, watch))
            watch.wait(min(POLL_SECONDS, deadline.remaining()))


def _timeout_message(what: str, timeout: float, watch: ClusterWatch) -> str:
    seen = watch.summary()
    lines = [f"Timed out after {format_elapsed(timeout)} waiting for {what} to complete."]
    if not watch.job_seen:
        lines.append(f"The {what} was never seen: check its name and namespace.")
    lines.append(f"At the deadline: {seen}." if seen else "No pod of the Job was seen.")
    lines.append(
        "Nothing definitive was diagnosed: the pods were still pulling, creating, running or waiting "
        "for a node. A longer timeout may be all it needs; `kubectl describe pod` shows the details."
    )
    return "\n".join(lines)
