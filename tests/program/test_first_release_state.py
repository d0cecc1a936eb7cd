"""A stack created by the first release updates in place: every resource it recorded is
still declared under its URN or carries that URN as an alias.

`tests/data/first_release_urns.json` holds what the first release (commit d6583e4)
registered under this harness, per configuration.
"""

from __future__ import annotations

import json

import pytest

from tests.support.harness import ROOT, run_program

FIRST_RELEASE = json.loads((ROOT / "tests" / "data" / "first_release_urns.json").read_text())
# The first release ran the walkthrough's MNIST job; the acceptance test is the new default
# on purpose, so the comparison runs the workload that release had.
SAME_WORKLOAD = {"sampleWorkload": "mnist"}


@pytest.mark.parametrize("config", sorted(FIRST_RELEASE))
def test_every_first_release_resource_is_kept(config):
    recorded = FIRST_RELEASE[config]
    run = run_program({**recorded["overrides"], **SAME_WORKLOAD})
    claims = {}
    for resource in run.resources:
        for urn in [resource.urn, *resource.alias_urns()]:
            assert urn not in claims, f"{urn} claimed twice"
            claims[urn] = resource
    for type_, urn in recorded["resources"]:
        assert urn in claims, f"{urn} is neither declared nor an alias"
        assert claims[urn].type == type_


@pytest.mark.parametrize("config", sorted(FIRST_RELEASE))
def test_aliases_name_only_first_release_resources(config):
    recorded = FIRST_RELEASE[config]
    old_urns = {urn for _, urn in recorded["resources"]}
    run = run_program({**recorded["overrides"], **SAME_WORKLOAD})
    for resource in run.resources:
        assert set(resource.alias_urns()) <= old_urns, resource.urn
        if resource.urn not in old_urns and resource.alias_names:
            assert len(resource.alias_names) == 1


def test_children_are_named_after_their_component():
    run = run_program()
    for resource in run.resources:
        parent = resource.parent.rsplit("::", 1)[-1]
        if "::pulumi:pulumi:Stack::" not in resource.parent:
            assert resource.name.startswith(parent + "-"), (resource.name, parent)


def test_a_second_instance_gets_no_first_release_alias():
    from aks_gpu.components import naming

    # Only a component with the first release's name aliases its children's old names:
    # two children aliasing one old URN would be refused by the engine.
    assert naming.FIRST_RELEASE_NAMES["aks-gpu:index:GpuCluster"] == "aks-gpu"
    run = run_program()
    cluster = run.one("azure-native:containerservice:ManagedCluster")
    assert cluster.alias_names == ["cluster"]
