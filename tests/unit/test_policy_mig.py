"""gpu-workloads-request-gpu on MIG pools: a `nvidia.com/mig-<slice>` limit takes a GPU, for the facts' slices only.

With the device plugin's `mixed` strategy a MIG node advertises one extended
resource per slice and no `nvidia.com/gpu`, so the program's own Jobs ask for
`nvidia.com/mig-<slice>`. The slices come from `aks_gpu/facts/gpu_models.py`.
"""

from __future__ import annotations

import pytest

from aks_gpu.facts.gpu_models import GPU_MODELS
from policy import rules
from tests.support.policy_stack import (
    DEPLOYMENT,
    GPU_TOLERATION,
    JOB,
    cpu_container,
    dev_stack,
    find,
    program_stack,
    workload,
)

SLICES = sorted({p.resource for model in GPU_MODELS.values() for p in model.mig_profiles.values()})


def findings(limits=None, requests=None) -> list[rules.Violation]:
    resources = {key: value for key, value in (("limits", limits), ("requests", requests)) if value is not None}
    pod = {"tolerations": [GPU_TOLERATION], "containers": [cpu_container(resources=resources)]}
    return rules.gpu_workload_violations([*dev_stack(), workload(DEPLOYMENT, "trainer", pod)])


def test_the_facts_define_slices_and_the_rule_takes_exactly_them():
    assert len(SLICES) >= 10 and "nvidia.com/mig-1g.10gb" in SLICES
    assert set(SLICES) == rules.MIG_RESOURCES


@pytest.mark.parametrize("resource", SLICES)
def test_every_slice_of_the_facts_takes_a_gpu(resource):
    assert findings(limits={resource: 1}) == []


@pytest.mark.parametrize("resource", ["nvidia.com/mig-9g.999gb", "nvidia.com/mig-1g.10GB", "nvidia.com/mig-"])
def test_a_slice_no_gpu_offers_is_refused_by_name(resource):
    [violation] = findings(limits={resource: 1})
    assert resource in violation.message and "no MIG slice" in violation.message


def test_a_slice_in_requests_only_is_explained():
    [violation] = findings(requests={"nvidia.com/mig-1g.10gb": 1})
    assert "only under resources.requests" in violation.message and "mig-1g.10gb" in violation.message


@pytest.mark.parametrize("value", [0, "0", -1, "one", None])
def test_a_slice_limit_must_be_a_whole_number_of_one_or_more(value):
    [violation] = findings(limits={"nvidia.com/mig-1g.10gb": value})
    assert "no container sets" in violation.message and "nvidia.com/mig-<slice>" in violation.message


def test_the_programs_mixed_mig_job_asks_for_its_slice_and_passes():
    overrides = {"gpuVmSize": "Standard_NC24ads_A100_v4", "gpuMigProfile": "MIG2g", "gpuMigStrategy": "mixed"}
    stack = program_stack(overrides)
    job = find(stack, JOB)
    limits = job.props["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert list(limits) == ["nvidia.com/mig-2g.20gb"]
    assert rules.gpu_workload_violations(stack) == []


def test_the_rule_text_names_the_mig_form():
    [rule] = [r for r in rules.RULES if r.name == "gpu-workloads-request-gpu"]
    assert "nvidia.com/mig-<slice>" in rule.description and "gpu_models.py" in rule.description
