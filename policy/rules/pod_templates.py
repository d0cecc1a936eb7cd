"""Where a Kubernetes object keeps its pod specs: built-in workload kinds, Argo templates, and any other kind's spec.

Custom resources reach the engine as `kubernetes:<group>/<version>:<Kind>`, from
pulumi-kubernetes' `apiextensions.CustomResource` or from a YAML file or
ConfigGroup expanded into resources, with the object's fields as inputs. Their
controllers create pods from templates at paths of their own: a RayCluster's
`headGroupSpec.template.spec` and each `workerGroupSpecs[i].template.spec`, a
PyTorchJob's (TFJob's, MPIJob's) `<kind>ReplicaSpecs.<role>.template.spec`, a
JobSet's `replicatedJobs[i].template.spec.template.spec`, a LeaderWorkerSet's,
a Knative Service's, a Volcano Job's tasks. Rather than a list of such paths,
which would miss the next operator, every kind the pack does not know is walked
and every mapping with a `containers` list is taken as a pod spec.

Argo Workflows is the exception the walk cannot read: a template names one
`container` (or `script`, or a `containerSet`) and takes its node selector,
tolerations and affinity from itself or else from the workflow, so its pod spec
is assembled the way Argo's controller assembles it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from policy.rules.model import get, is_unknown, items, mapping, reveal, text
from policy.rules.resource_types import kubernetes_kind, kubernetes_object

# Where each built-in workload kind keeps its pod spec; every API version and `...Patch` type alike.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# The object's envelope, which holds no pod spec (status is the controller's, not the program's).
_ENVELOPE = frozenset({"apiVersion", "kind", "metadata", "status"})

ARGO_GROUP = "argoproj.io"
# Argo kinds whose spec is a WorkflowSpec, and the path to it.
ARGO_WORKFLOW_SPECS: Mapping[str, tuple[str, ...]] = {
    "Workflow": ("spec",),
    "WorkflowTemplate": ("spec",),
    "ClusterWorkflowTemplate": ("spec",),
    "CronWorkflow": ("spec", "workflowSpec"),
}
# Pod fields an Argo template sets for its own pod, else inherits from the workflow.
_ARGO_INHERITED = ("nodeSelector", "tolerations", "affinity", "securityContext", "priorityClassName")
# Pod fields only the workflow sets, for every pod it starts.
_ARGO_WORKFLOW_ONLY = ("hostNetwork",)


@dataclasses.dataclass(frozen=True)
class PodSpecAt:
    """A pod spec inside an object, and where: "" for a built-in kind's own pod spec, else a path for messages."""

    spec: Mapping[str, Any]
    where: str = ""


def pod_specs(resource_type: str, props: Mapping[str, Any]) -> list[PodSpecAt]:
    """Every pod spec of a Kubernetes object; none for other resources (or while its spec is unknown)."""
    path = POD_SPEC_PATHS.get(kubernetes_kind(resource_type) or "")
    if path is not None:
        spec = get(props, *path)
        return [PodSpecAt(spec)] if isinstance(spec, Mapping) else []
    identity = kubernetes_object(resource_type)
    if identity is None:
        return []
    group, kind = identity
    if group == ARGO_GROUP and kind in ARGO_WORKFLOW_SPECS:
        return argo_pod_specs(get(props, *ARGO_WORKFLOW_SPECS[kind]), ".".join(ARGO_WORKFLOW_SPECS[kind]))
    return walk_pod_specs(props)


def is_pod_spec(value: Mapping[str, Any]) -> bool:
    """A mapping shaped like a core/v1 PodSpec: it has a list of containers (or one the preview cannot know)."""
    found = reveal(value.get("containers"))
    return isinstance(found, list) or is_unknown(found)


def walk_pod_specs(props: Mapping[str, Any]) -> list[PodSpecAt]:
    """Every pod spec anywhere in the object outside its envelope, outermost first (not looking inside one)."""
    found = []
    pending: list[tuple[str, Any]] = [(key, props[key]) for key in reversed(list(props)) if key not in _ENVELOPE]
    while pending:
        where, value = pending.pop()
        value = reveal(value)
        if isinstance(value, Mapping):
            if is_pod_spec(value):
                found.append(PodSpecAt(value, where))
                continue
            pending += [(f"{where}.{key}", value[key]) for key in reversed(list(value))]
        elif isinstance(value, (list, tuple)):
            pending += [(f"{where}[{index}]", item) for index, item in reversed(list(enumerate(value)))]
    return found


def _argo_containers(template: Mapping[str, Any]) -> list[Any]:
    """The template's main containers (container, script or containerSet) and its sidecars."""
    main = [template[key] for key in ("container", "script") if mapping(template.get(key))]
    return main + items(get(template, "containerSet", "containers")) + items(template.get("sidecars"))


def argo_pod_specs(workflow_spec: Any, where: str) -> list[PodSpecAt]:
    """The pod spec of each Argo template that runs a container, assembled as Argo's controller does."""
    workflow = mapping(workflow_spec)
    found = []
    for index, template in enumerate(map(mapping, items(workflow.get("templates")))):
        containers = _argo_containers(template)
        if not containers:
            continue  # steps, dag, suspend, resource templates start no pod of their own
        spec: dict[str, Any] = {"containers": containers, "initContainers": items(template.get("initContainers"))}
        for field in _ARGO_INHERITED:
            value = template.get(field)
            spec[field] = workflow.get(field) if value is None else value
        for field in _ARGO_WORKFLOW_ONLY:
            spec[field] = workflow.get(field)
        spec["volumes"] = items(workflow.get("volumes")) + items(template.get("volumes"))
        name = text(template.get("name")) or "?"
        found.append(PodSpecAt(spec, f"{where}.templates[{index}] '{name}'"))
    return found
