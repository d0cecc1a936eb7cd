"""The GPU acceptance Job's result: every pod's log, parsed, each node's Node Problem Detector GPU conditions,
a node against its pool, and a verdict per node and GPU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import kubernetes.client
import urllib3

from aks_gpu.verifier.acceptance import format_acceptance_failures, parse_acceptance_log
from aks_gpu.verifier.acceptance_judging import Condition, npd_problems, pool_outliers
from aks_gpu.verifier.errors import VerificationError, read_body
from aks_gpu.verifier.job_result import reading
from aks_gpu.verifier.summary import render

# A pod logs about 30 lines per GPU; 8 GPUs fit many times over.
LOG_TAIL_LINES = 2000
# Set by the Job controller on the pods of an Indexed Job.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


class AcceptanceError(VerificationError):
    """A GPU or node fell short, or a pod left no verdict; `result` holds what was read."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def _annotations(pod: kubernetes.client.V1Pod) -> dict[str, str]:
    metadata = pod.metadata
    return dict(metadata.annotations or {}) if metadata is not None else {}


def _name(pod: kubernetes.client.V1Pod) -> str:
    return str(pod.metadata.name) if pod.metadata is not None and pod.metadata.name else "?"


def _read_log(core: kubernetes.client.CoreV1Api, namespace: str, name: str, server: str) -> str:
    with reading(f"read the log of pod {namespace}/{name}", f"get on pods/log in {namespace}", server):
        response = core.read_namespaced_pod_log(name, namespace, tail_lines=LOG_TAIL_LINES, _preload_content=False)
        return read_body(cast(urllib3.BaseHTTPResponse, response)).decode("utf-8", errors="replace")


def node_conditions(core: kubernetes.client.CoreV1Api, server: str) -> dict[str, list[Condition]]:
    """{node name: [(type, status, reason, message), ...]} of every node."""
    with reading("list the nodes", "list on nodes", server):
        items = core.list_node().items
    found: dict[str, list[Condition]] = {}
    for item in items:
        name = item.metadata.name if item.metadata is not None else None
        conditions = (item.status.conditions if item.status is not None else None) or []
        if name:
            found[str(name)] = [(str(c.type), str(c.status), c.reason, c.message) for c in conditions]
    return found


def read_acceptance_result(api: kubernetes.client.ApiClient, namespace: str, job_name: str) -> dict[str, Any]:
    """Read every completion's newest pod log of the acceptance Job, and the nodes' GPU conditions.

    Returns {"passed": bool, "nodes": [{"node", "pod", "index", "passed", "gpus": [record, ...],
    "summary": dict | None, "problems": [str, ...]}], "table": str} (records and summary as
    `parse_acceptance_log` gives them; problems: Node Problem Detector GPU conditions and a node below its
    pool's median; table: the per-node, per-GPU Markdown table of `summary.render`). Raises
    AcceptanceError naming node, GPU, figures and floors when a GPU or a node fell short.
    """
    core = kubernetes.client.CoreV1Api(api)
    server = str(api.configuration.host)
    with reading(f"list the pods of Job {namespace}/{job_name}", f"list on pods in {namespace}", server):
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    nodes: list[dict[str, Any]] = []
    logs: list[tuple[str, dict[str, Any]]] = []
    texts: list[str] = []
    for pod in _newest_per_index(pods):
        name = _name(pod)
        texts.append(_read_log(core, namespace, name, server))
        parsed = parse_acceptance_log(texts[-1])
        node = (pod.spec.node_name if pod.spec is not None else None) or (parsed["summary"] or {}).get("node")
        index = _annotations(pod).get(COMPLETION_INDEX)
        entry = {"node": node, "pod": name, "index": index, "passed": parsed["passed"], "gpus": parsed["records"]}
        nodes.append({**entry, "summary": parsed["summary"], "problems": []})
        logs.append((node or name, parsed))
    if not nodes:
        raise AcceptanceError(f"The acceptance Job {namespace}/{job_name} has no pods to read.", _result(nodes, []))
    _add_node_problems(nodes, node_conditions(core, server))
    problems = [f"  - node {n['node']}: {problem}" for n in nodes for problem in n["problems"]]
    message = format_acceptance_failures(logs)
    if problems:
        message = (message or "GPU acceptance failed:") + "\n" + "\n".join(problems)
    if message:
        raise AcceptanceError(message, _result(nodes, texts))
    return _result(nodes, texts)


def _add_node_problems(nodes: Sequence[dict[str, Any]], conditions: dict[str, list[Condition]]) -> None:
    outliers = pool_outliers(nodes)
    for node in nodes:
        name = str(node["node"] or "")
        node["problems"] = npd_problems(conditions.get(name, [])) + outliers.get(name, [])
        node["passed"] = node["passed"] and not node["problems"]


def _result(nodes: Sequence[dict[str, Any]], logs: Sequence[str]) -> dict[str, Any]:
    # The table people read after `up` (stack output gpuAcceptanceSummary, the pipelines' step summary).
    table = render("\n".join(logs))[0] if logs else ""
    return {"passed": bool(nodes) and all(n["passed"] for n in nodes), "nodes": list(nodes), "table": table}


def _newest_per_index(pods: list[kubernetes.client.V1Pod]) -> list[kubernetes.client.V1Pod]:
    """The newest pod of each completion index (a retried index leaves older pods behind)."""
    newest: dict[str, kubernetes.client.V1Pod] = {}
    for pod in sorted(pods, key=_created):
        newest[_annotations(pod).get(COMPLETION_INDEX, _name(pod))] = pod
    return [newest[key] for key in sorted(newest, key=lambda k: (len(k), k))]


def _created(pod: kubernetes.client.V1Pod) -> float:
    stamp = pod.metadata.creation_timestamp if pod.metadata is not None else None
    return float(stamp.timestamp()) if stamp is not None else 0.0
