"""The stack waits for its workloads itself and watches the device plugin where it runs (issue 16)."""

from __future__ import annotations

import pytest

from aks_gpu.components.checks import _changed
from aks_gpu.facts import device_plugin
from tests.support.harness import Run, run_program

DYNAMIC = "pulumi-python:dynamic:Resource"
JOB = "kubernetes:batch/v1:Job"


@pytest.fixture(scope="module")
def dev() -> Run:
    return run_program()


@pytest.fixture(scope="module")
def managed_mnist() -> Run:
    return run_program({"gpuStack": "managed", "sampleWorkload": "mnist"})


def test_jobs_skip_the_generic_await_and_the_result_check_waits_with_its_own_deadline(dev):
    [job] = dev.all(JOB)
    assert job.plain_inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    result = dev.one(DYNAMIC, "gpu-acceptance-result").plain_inputs
    assert result["waitSeconds"] == 3600
    assert result["pluginNamespace"] == "gpu-resources"
    assert result["nodeSelector"] == "kubernetes.azure.com/agentpool=gpu"


def test_the_capacity_check_watches_the_stacks_plugin_pods(dev):
    check = dev.one(DYNAMIC, "gpu-verification-capacity").plain_inputs
    assert check["pluginNamespace"] == device_plugin.STACK_NAMESPACE == "gpu-resources"


def test_the_managed_stack_watches_the_plugin_aks_runs_in_kube_system(managed_mnist):
    result = managed_mnist.one(DYNAMIC, "sample-gpu-job-result").plain_inputs
    assert result["pluginNamespace"] == device_plugin.MANAGED_NAMESPACE == "kube-system"
    assert result["waitSeconds"] > 0
    [job] = managed_mnist.all(JOB)
    assert job.plain_inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_how_long_and_where_a_check_watches_never_re_runs_it():
    olds = {"jobName": "j", "namespace": "n"}  # a first-release state
    news = {**olds, "waitSeconds": 3600, "pluginNamespace": "kube-system", "nodeSelector": "a=b"}
    assert _changed(olds, news) == []
    assert _changed(olds, {**news, "jobName": "k"}) == ["jobName"]


def test_the_stack_namespace_fact_is_the_declared_default():
    from aks_gpu.config.project import declared_default

    assert declared_default("gpuNamespace") == device_plugin.STACK_NAMESPACE


@pytest.mark.parametrize("name", ["gpu-verification-capacity", "gpu-acceptance-result"])
def test_each_check_is_told_its_own_urn_for_its_progress_row(dev, name):
    check = dev.one(DYNAMIC, name)
    assert check.plain_inputs["logUrn"] == check.urn


def test_the_mnist_result_check_is_told_its_own_urn(managed_mnist):
    check = managed_mnist.one(DYNAMIC, "sample-gpu-job-result")
    assert check.plain_inputs["logUrn"] == check.urn
