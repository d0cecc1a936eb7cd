"""The GPU acceptance Job's result: every pod's log, parsed, and a verdict per node and GPU."""

from __future__ import annotations

from typing import Any

import kubernetes.client

from aks_gpu.verifier.acceptance import format_acceptance_failures, parse_acceptance_log
from aks_gpu.verifier.errors import VerificationError, read_body
from aks_gpu.verifier.job_result import reading

# A pod logs about 30 lines per GPU; 8 GPUs fit many times over.
LOG_TAIL_LINES = 2000
# Set by the Job controller on the pods of an Indexed Job.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


class AcceptanceError(VerificationError):
    """A GPU fell short, or a pod left no verdict; `result` holds what was read."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def read_acceptance_result(api: kubernetes.client.ApiClient, namespace: str, job_name: str) -> dict[str, Any]:
    """Read every completion's newest pod log of the acceptance Job.

    Returns {"passed": bool, "nodes": [{"node", "pod", "index", "passed", "gpus": [record, ...]}]}
    (records as `parse_acceptance_log` gives them). Raises AcceptanceError naming the node,
    the GPU index and measured vs expected figures when a GPU fell short.
    """
    core = kubernetes.client.CoreV1Api(api)
    server = str(api.configuration.host)
    with reading(f"list the pods of Job {namespace}/{job_name}", f"list on pods in {namespace}", server):
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    nodes, logs = [], []
    for pod in _newest_per_index(pods):
        name = pod.metadata.name
        with reading(f"read the log of pod {namespace}/{name}", f"get on pods/log in {namespace}", server):
            response = core.read_namespaced_pod_log(name, namespace, tail_lines=LOG_TAIL_LINES, _preload_content=False)
            log = read_body(response).decode("utf-8", errors="replace")
        parsed = parse_acceptance_log(log)
        node = (pod.spec and pod.spec.node_name) or (parsed["summary"] or {}).get("node")
        index = (pod.metadata.annotations or {}).get(COMPLETION_INDEX)
        nodes.append({"node": node, "pod": name, "index": index, "passed": parsed["passed"], "gpus": parsed["records"]})
        logs.append((node or name, parsed))
    result = {"passed": bool(nodes) and all(n["passed"] for n in nodes), "nodes": nodes}
    if not nodes:
        raise AcceptanceError(f"The acceptance Job {namespace}/{job_name} has no pods to read.", result)
    message = format_acceptance_failures(logs)
    if message:
        raise AcceptanceError(message, result)
    return result


def _newest_per_index(pods: list[kubernetes.client.V1Pod]) -> list[kubernetes.client.V1Pod]:
    """The newest pod of each completion index (a retried index leaves older pods behind)."""
    newest: dict[str, kubernetes.client.V1Pod] = {}
    for pod in sorted(pods, key=_created):
        index = (pod.metadata.annotations or {}).get(COMPLETION_INDEX, pod.metadata.name)
        newest[index] = pod
    return [newest[key] for key in sorted(newest, key=lambda k: (len(k), k))]


def _created(pod: kubernetes.client.V1Pod) -> float:
    stamp = pod.metadata.creation_timestamp
    return stamp.timestamp() if stamp is not None else 0.0
