"""The sample Job's result: its status and what its pod logged."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any, cast

import kubernetes.client
import urllib3
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier.errors import (
    TRANSPORT_ERRORS,
    VerificationError,
    access_error,
    describe,
    read_body,
    trust_error,
)

# The sample's log is a few dozen lines; the bound only protects the caller's
# memory from a runaway log. The last accuracy line is always near the end.
LOG_TAIL_LINES = 1000

_ACCURACY_LINE = re.compile(r"Accuracy at step (\d+): (\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def parse_sample_log(log: str, tail: int = 10) -> dict[str, Any]:
    """The final accuracy of the MNIST sample (if the log has one) and the last lines."""
    if tail < 0:
        raise ValueError("tail must not be negative")
    matches = _ACCURACY_LINE.findall(log)
    step, accuracy = matches[-1] if matches else (None, None)
    lines = [line.rstrip() for line in log.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return {
        "accuracy": float(accuracy) if accuracy is not None else None,
        "step": int(step) if step is not None else None,
        "lastLines": lines[-tail:] if tail else [],
    }


def read_job_result(api: kubernetes.client.ApiClient, namespace: str, job_name: str, tail: int = 10) -> dict[str, Any]:
    """The Job's status and what its newest (preferably succeeded) pod logged."""
    batch = kubernetes.client.BatchV1Api(api)
    core = kubernetes.client.CoreV1Api(api)
    server = str(api.configuration.host)
    with reading(f"read Job {namespace}/{job_name}", f"get on jobs in {namespace}", server, api.configuration):
        job = batch.read_namespaced_job(job_name, namespace)
    with reading(f"list the pods of Job {namespace}/{job_name}", f"list on pods in {namespace}", server):
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    pod = _result_pod(pods)
    log = ""
    if pod is not None:
        with reading(f"read the log of pod {namespace}/{pod}", f"get on pods/log in {namespace}", server):
            response = core.read_namespaced_pod_log(pod, namespace, tail_lines=LOG_TAIL_LINES, _preload_content=False)
            # With _preload_content=False the client returns the HTTP response, not the str its annotation names.
            log = read_body(cast(urllib3.BaseHTTPResponse, response)).decode("utf-8", errors="replace")
    return {"status": _job_status(job), "pod": pod, **parse_sample_log(log, tail)}


@contextlib.contextmanager
def reading(action: str, permission: str, server: str, configuration: object | None = None) -> Iterator[None]:
    """Turn API and transport errors while doing `action` against `server` into VerificationErrors
    naming the RBAC `permission` needed."""
    try:
        yield
    except ApiException as error:
        if error.status in (401, 403):
            raise access_error(error, action, permission, configuration) from None
        raise trust_error(error, server) or VerificationError(
            f"Could not {action}: {describe(error, server)}"
        ) from None
    except TRANSPORT_ERRORS as error:
        raise trust_error(error, server) or VerificationError(
            f"Could not {action}: {describe(error, server)}"
        ) from None


def _job_status(job: kubernetes.client.V1Job) -> str:
    conditions = (job.status and job.status.conditions) or []
    done = {condition.type for condition in conditions if condition.status == "True"}
    for status in ("Complete", "Failed"):
        if status in done:
            return status
    return "Running"


def _result_pod(pods: list[kubernetes.client.V1Pod]) -> str | None:
    """The name of the newest succeeded pod, else of the newest pod (None without pods)."""
    named = [(pod, pod.metadata.name) for pod in pods if pod.metadata is not None and pod.metadata.name]

    def newest_first(entry: tuple[kubernetes.client.V1Pod, str]) -> tuple[bool, float, str]:
        pod, name = entry
        succeeded = pod.status is not None and pod.status.phase == "Succeeded"
        stamp = pod.metadata.creation_timestamp if pod.metadata is not None else None
        return (succeeded, stamp.timestamp() if stamp is not None else 0.0, name)

    return max(named, key=newest_first)[1] if named else None
