"""The cluster and pool rules see AKS clusters and pools in every azure-native form: typed, generic ARM, ARM template.

A cluster declared as `azure-native:resources:Resource` (inputs name its type in
pieces, outputs as ARM's `type`) or inside a `resources:Deployment` template is
held to the same rules as the typed ManagedCluster: a retired GPU size, RBAC off
or no managed identity are refused wherever the cluster is written.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy import rules
from tests.support.policy_stack import CLUSTER, GENERIC, TODAY, dev_stack, find, res

DEPLOYMENT = "azure-native:resources:Deployment"
RETIRED = "Standard_NC6"


def cluster_properties(**fields: Any) -> dict[str, Any]:
    """The program's own cluster's properties, as a typed ManagedCluster takes them (with `fields` replaced)."""
    props = copy.deepcopy(dict(find(dev_stack(), CLUSTER).props))
    return {**props, **fields}


def gpu_profile(vm_size: str = RETIRED) -> dict[str, Any]:
    return {"name": "gpu", "mode": "User", "vmSize": vm_size, "count": 1, "nodeTaints": ["sku=gpu:NoSchedule"]}


def as_generic(typed: dict[str, Any], form: str) -> dict[str, Any]:
    """A typed ManagedCluster's props as a generic ARM resource's inputs or outputs."""
    envelope = {key: typed.pop(key) for key in ("location", "identity", "resourceGroupName") if key in typed}
    name = typed.pop("resourceName", "aks")
    if form == "outputs":
        return {"name": name, "type": "Microsoft.ContainerService/managedClusters", **envelope, "properties": typed}
    return {
        "resourceProviderNamespace": "microsoft.containerservice"
        if form == "lower-case"
        else "Microsoft.ContainerService",
        "resourceType": "managedClusters",
        "parentResourcePath": "",
        "resourceName": name,
        "apiVersion": "2026-08-01",
        **envelope,
        "properties": typed,
    }


FORMS = ["inputs", "outputs", "lower-case"]


def generic_cluster(form: str, **fields: Any) -> rules.Resource:
    return res(GENERIC, "aks-generic", as_generic(cluster_properties(**fields), form))


@pytest.mark.parametrize("form", FORMS)
def test_a_generic_cluster_like_the_programs_passes(form):
    cluster = generic_cluster(form)
    [found] = rules.clusters(GENERIC, cluster.props)
    assert found.fields["enableRBAC"] is True
    assert rules.cluster_identity_violations(GENERIC, cluster.props) == []


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"enableRBAC": False}, "sets enableRBAC: False"),
        ({"enableRBAC": None}, "does not set enableRBAC"),
        ({"identity": None}, "has no identity"),
        ({"servicePrincipalProfile": {"clientId": "abc", "secret": "x"}}, "servicePrincipalProfile"),
    ],
    ids=["rbac-off", "rbac-unset", "no-identity", "service-principal"],
)
def test_a_generic_cluster_without_rbac_or_managed_identity_fails(form, fields, expected):
    cluster = generic_cluster(form, **fields)
    [message] = rules.cluster_identity_violations(GENERIC, cluster.props)
    assert expected in message


@pytest.mark.parametrize("form", FORMS)
def test_a_generic_cluster_with_a_retired_gpu_pool_fails(form):
    props = cluster_properties()
    cluster = generic_cluster(form, agentPoolProfiles=[*props["agentPoolProfiles"], gpu_profile()])
    [violation] = rules.gpu_vm_size_violations([cluster], today=TODAY)
    assert violation.urn == cluster.urn and "'gpu'" in violation.message and "retired" in violation.message
    untainted = generic_cluster(form, agentPoolProfiles=[{**gpu_profile("Standard_NC4as_T4_v3"), "nodeTaints": []}])
    assert len(rules.gpu_pool_taint_violations(GENERIC, untainted.props)) == 1


@pytest.mark.parametrize(
    ("resource_type", "parent"),
    [
        ("agentPools", "managedClusters/aks"),
        ("managedClusters/agentPools", ""),
        ("agentPools", "/managedClusters/aks/"),
    ],
)
def test_a_generic_agent_pool_with_a_retired_size_fails(resource_type, parent):
    props = {
        "resourceProviderNamespace": "Microsoft.ContainerService",
        "resourceType": resource_type,
        "parentResourcePath": parent,
        "resourceName": "gpu",
        "properties": gpu_profile(),
    }
    pool = res(GENERIC, "gpu-pool", props)
    [violation] = rules.gpu_vm_size_violations([pool], today=TODAY)
    assert violation.urn == pool.urn and "retired" in violation.message


def test_other_generic_resources_are_no_clusters():
    vnet = {"resourceProviderNamespace": "Microsoft.Network", "resourceType": "virtualNetworks", "properties": {}}
    assert rules.cluster_identity_violations(GENERIC, vnet) == []
    assert rules.agent_pools(GENERIC, vnet) == []


# --- ARM templates ---------------------------------------------------------------------------------


def template_cluster(**properties: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.ContainerService/managedClusters",
        "apiVersion": "2026-08-01",
        "name": "[parameters('clusterName')]",
        "location": "eastus",
        "identity": {"type": "SystemAssigned"},
        "properties": {"enableRBAC": True, "dnsPrefix": "aks", **properties},
    }


def deployment(resources: Any, parameters: dict[str, Any] | None = None, **template: Any) -> rules.Resource:
    body = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"}
    body |= {"contentVersion": "1.0.0.0", "resources": resources, **template}
    props = {"resourceGroupName": "rg", "properties": {"mode": "Incremental", "template": body}}
    if parameters is not None:
        props["properties"]["parameters"] = {key: {"value": value} for key, value in parameters.items()}
    return res(DEPLOYMENT, "arm", props)


def test_a_template_cluster_with_rbac_off_or_a_retired_pool_fails():
    bad = deployment([template_cluster(enableRBAC=False, agentPoolProfiles=[gpu_profile()])])
    [message] = rules.cluster_identity_violations(bad.type, bad.props)
    assert "sets enableRBAC: False" in message
    [violation] = rules.gpu_vm_size_violations([bad], today=TODAY)
    assert "retired" in violation.message


def test_template_parameters_are_read_and_other_expressions_are_unknown():
    rbac = template_cluster(enableRBAC="[parameters('rbac')]")
    given = deployment([rbac], parameters={"rbac": False, "clusterName": "prod"})
    [message] = rules.cluster_identity_violations(given.type, given.props)
    assert message.startswith("The cluster 'prod' sets enableRBAC: False")
    default = deployment([rbac], parameters={"rbac": {"type": "bool", "defaultValue": False}})
    default.props["properties"]["template"]["parameters"] = default.props["properties"].pop("parameters")
    default.props["properties"]["template"]["parameters"]["rbac"] = {"type": "bool", "defaultValue": False}
    assert "sets enableRBAC: False" in rules.cluster_identity_violations(default.type, default.props)[0]
    computed = deployment([template_cluster(enableRBAC="[not(parameters('open'))]")])
    assert rules.cluster_identity_violations(computed.type, computed.props) == []
    escaped = deployment([template_cluster(enableRBAC="[[literal]")])
    assert "sets enableRBAC: '[[literal]'" in rules.cluster_identity_violations(escaped.type, escaped.props)[0]


def test_nested_and_symbolic_template_pools_are_found():
    nested_pool = {"type": "agentPools", "name": "gpu", "properties": gpu_profile()}
    nested = deployment([{**template_cluster(), "name": "aks", "resources": [nested_pool]}])
    [violation] = rules.gpu_vm_size_violations([nested], today=TODAY)
    assert "GPU pool 'gpu'" in violation.message
    [pool] = [p for p in rules.agent_pools(nested.type, nested.props) if p.name == "gpu"]
    assert pool.cluster == "aks"
    symbolic_pool = {"type": "Microsoft.ContainerService/managedClusters/agentPools", "name": "aks/gpu"}
    symbolic = deployment({"pool": {**symbolic_pool, "properties": gpu_profile()}}, languageVersion="2.0")
    [violation] = rules.gpu_vm_size_violations([symbolic], today=TODAY)
    assert "GPU pool 'gpu'" in violation.message


@pytest.mark.parametrize(
    "resource_type",
    [
        "azure-native:resources:DeploymentAtScope",
        "azure-native:resources:DeploymentAtSubscriptionScope",
        "azure-native:resources/v20240301:Deployment",
    ],
)
def test_deployments_at_other_scopes_and_versions_are_read(resource_type):
    bad = deployment([template_cluster(enableRBAC=False)])
    assert rules.cluster_identity_violations(resource_type, bad.props)


def test_a_template_the_engine_does_not_know_yet_is_left_for_up():
    props = {"properties": {"template": rules.UNKNOWN}}
    assert rules.cluster_identity_violations(DEPLOYMENT, props) == []
    assert rules.agent_pools(DEPLOYMENT, {"properties": rules.UNKNOWN}) == []
