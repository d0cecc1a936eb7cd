"""AKS clusters and agent pools in every form azure-native declares them, read as the typed resources' properties.

A cluster or pool reaches the pack as the typed resource
(`containerservice:ManagedCluster`, `containerservice:AgentPool`, any API
version), as azure-native's generic ARM `resources:Resource` (the program's
managed-GPU pool is one; its inputs name the type in pieces,
`resourceProviderNamespace` and `resourceType` under an optional
`parentResourcePath`, its outputs as ARM's `type`), or inside an ARM template
deployed by `resources:Deployment` (or a Deployment at another scope). Each
form is turned into the fields the typed resource takes, so every cluster and
pool rule reads one shape. Template expressions (`[parameters('x')]`) are
resolved from the deployment's parameters or the template's defaults when that
is all they say, and are otherwise unknown, as a preview's values are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from aks_gpu.facts import azure
from policy.rules.model import UNKNOWN, get, items, mapping, reveal, same, text
from policy.rules.resource_types import canonical, is_agent_pool, is_generic_resource, is_managed_cluster

CLUSTER_TYPE = f"{azure.CONTAINER_SERVICE_NAMESPACE}/managedClusters"
POOL_TYPE = f"{CLUSTER_TYPE}/agentPools"
_DEPLOYMENT = re.compile(r"azure-native:resources:Deployment(At[A-Za-z]*Scope)?")
_PARAMETER = re.compile(r"\[\s*parameters\(\s*'([^']+)'\s*\)\s*\]")


@dataclasses.dataclass(frozen=True)
class ArmObject:
    """A cluster or pool: its kind, name, the typed resource's fields, its location (clusters) or cluster (pools)."""

    kind: str  # "cluster" or "pool"
    name: str | None
    fields: Mapping[str, Any]
    location: str | None = None
    cluster: str | None = None


def arm_objects(resource_type: str, props: Mapping[str, Any]) -> list[ArmObject]:
    """The AKS clusters and pools one resource declares, in any of its forms; none for other resources."""
    if is_managed_cluster(resource_type):
        name = text(props.get("resourceName")) or text(props.get("name"))
        return [ArmObject("cluster", name, props, text(props.get("location")))]
    if is_agent_pool(resource_type):
        name = text(props.get("agentPoolName")) or text(props.get("name"))
        return [ArmObject("pool", name, props, cluster=text(props.get("resourceName")))]
    if is_generic_resource(resource_type):
        return _generic(props)
    if _DEPLOYMENT.fullmatch(canonical(resource_type)):
        return list(_template_objects(mapping(props.get("properties"))))
    return []


def _generic_type(props: Mapping[str, Any]) -> tuple[str, list[str]]:
    """(the ARM type, the parents' names) of a generic resource, from its inputs or else its output `type`."""
    namespace = text(props.get("resourceProviderNamespace"))
    if namespace is None:
        return text(props.get("type")) or "", []
    segments = (text(props.get("parentResourcePath")) or "").strip("/").split("/")
    parent_types, parent_names = segments[0::2], segments[1::2]
    resource_type = text(props.get("resourceType")) or ""
    return "/".join([namespace, *filter(None, parent_types), resource_type]), parent_names


def _generic(props: Mapping[str, Any]) -> list[ArmObject]:
    arm_type, parents = _generic_type(props)
    name = text(props.get("resourceName")) or text(props.get("name"))
    fields = {**mapping(props.get("properties")), "identity": props.get("identity")}
    if same(arm_type, CLUSTER_TYPE):
        return [ArmObject("cluster", name, fields, text(props.get("location")))]
    if same(arm_type, POOL_TYPE):
        return [ArmObject("pool", name, fields, cluster=parents[0] if parents else None)]
    return []


# --- ARM templates ------------------------------------------------------------------------------


def _parameters(deployment: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name -> value: the deployment's, else the template's default."""
    values = {name: get(spec, "defaultValue") for name, spec in mapping(template.get("parameters")).items()}
    given = mapping(deployment.get("parameters"))
    values.update({name: get(spec, "value") for name, spec in given.items() if "value" in mapping(spec)})
    return values


def _resolved(value: Any, parameters: Mapping[str, Any]) -> Any:
    """The value with template expressions resolved where they only name a parameter, else UNKNOWN."""
    value = reveal(value)
    if isinstance(value, Mapping):
        return {key: _resolved(item, parameters) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolved(item, parameters) for item in value]
    if isinstance(value, str) and value.startswith("[") and not value.startswith("[["):
        match = _PARAMETER.fullmatch(value)
        found = parameters.get(match.group(1)) if match else None
        return UNKNOWN if found is None else _resolved(found, {})
    return value


def _template_resources(resources: Any) -> list[Mapping[str, Any]]:
    """A template's resources: a list, or (languageVersion 2.0) a mapping of symbolic name -> resource."""
    value = reveal(resources)
    return list(map(mapping, value.values() if isinstance(value, Mapping) else items(value)))


def _template_objects(deployment: Mapping[str, Any]) -> Iterator[ArmObject]:
    template = mapping(deployment.get("template"))
    parameters = _parameters(deployment, template)
    pending = [(r, "", "") for r in _template_resources(template.get("resources"))]
    while pending:
        resource, parent_type, parent_name = pending.pop(0)
        resource = mapping(_resolved(resource, parameters))
        # A nested resource names its type and name relative to its parent's.
        arm_type = "/".join(filter(None, [parent_type, text(resource.get("type")) or ""]))
        name = "/".join(filter(None, [parent_name, text(resource.get("name")) or ""]))
        if same(arm_type, CLUSTER_TYPE):
            fields = {**mapping(resource.get("properties")), "identity": resource.get("identity")}
            yield ArmObject("cluster", name or None, fields, text(resource.get("location")))
        elif same(arm_type, POOL_TYPE):
            cluster, _, pool = name.rpartition("/")
            yield ArmObject("pool", pool or None, mapping(resource.get("properties")), cluster=cluster or None)
        pending += [(child, arm_type, name) for child in _template_resources(resource.get("resources"))]
