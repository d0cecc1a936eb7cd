"""The typed seams of the verification checks: what the program sends is what the provider reads."""

from __future__ import annotations

import dataclasses

import pytest

from aks_gpu.components.check_inputs import (
    ACCESS_OUTPUTS,
    CAPACITY_OUTPUTS,
    JOB_OUTPUTS,
    AccessCheckInputs,
    CapacityCheckInputs,
    CapacityCheckOutputs,
    JobCheckInputs,
)
from aks_gpu.components.checks import check_props

SEAMS = [
    CapacityCheckInputs(
        expected_gpus=14, timeout_seconds=1200, selector="agentpool=gpu", gpu_resource="nvidia.com/mig-1g.18gb"
    ),
    JobCheckInputs(namespace="gpu-resources", job_name="gpu-acceptance-1a2b"),
    AccessCheckInputs(timeout_seconds=600),
]


@pytest.mark.parametrize("inputs", SEAMS, ids=lambda i: type(i).__name__)
def test_the_provider_reads_back_what_the_program_sent(inputs):
    props = check_props("apiVersion: v1", inputs.to_props(), {"gpuVmSize": "Standard_NC24ads_A100_v4"}, ())
    assert type(inputs).from_props(props) == inputs
    # Every field travels: a field left out of to_props would come back as a default or fail.
    assert len(inputs.to_props()) == len(dataclasses.fields(inputs))


def test_a_first_release_capacity_state_reads_as_whole_gpus():
    # The first release recorded no gpuResource; such a state still counts nvidia.com/gpu.
    first = {"expectedGpus": 4, "timeoutSeconds": 1200, "selector": "agentpool=gpu"}
    assert CapacityCheckInputs.from_props(first).gpu_resource == "nvidia.com/gpu"


def test_outputs_exist_as_placeholders_and_kubeconfig_is_secret():
    import pulumi

    props = check_props("kubeconfig-text", {"a": 1}, {"t": "x"}, CAPACITY_OUTPUTS + JOB_OUTPUTS + ACCESS_OUTPUTS)
    assert isinstance(props["kubeconfig"], pulumi.Output)
    assert {k: props[k] for k in ("verifiedGpus", "gpuNodes", "result", "reviews")} == dict.fromkeys(
        ("verifiedGpus", "gpuNodes", "result", "reviews")
    )
    assert CapacityCheckOutputs(verified_gpus=8, gpu_nodes=[{"node": "n1"}]).to_outs() == {
        "verifiedGpus": 8,
        "gpuNodes": [{"node": "n1"}],
    }
