"""The GPU verification and job-result resources: their place in the stack, their
secrecy, and their providers run for real against a Kubernetes API test server."""

from __future__ import annotations

import pytest
from pulumi.dynamic import dynamic as pulumi_dynamic

from aks_gpu.components.checks import GpuCapacityCheckProvider, SampleJobResultProvider
from tests.support.harness import DYNAMIC_OUTPUTS, FAKE_TOKEN, Run, is_secret, run_program
from tests.support.kube_api_server import KubeApiServer, gpu_node

DYNAMIC = "pulumi-python:dynamic:Resource"
AGENT_POOL = "azure-native:containerservice:AgentPool"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
JOB = "kubernetes:batch/v1:Job"


MNIST = {"sampleWorkload": "mnist"}


def deps(run: Run, resource) -> set[str]:
    return {run.by_urn(urn).name for urn in resource.dependencies}


@pytest.fixture(scope="module")
def dev() -> Run:
    # The walkthrough's job, whose result resource these tests follow.
    return run_program(MNIST)


def test_check_runs_after_pool_and_plugin_and_gates_the_sample_job(dev):
    check = dev.one(DYNAMIC, "gpu-verification-capacity")
    assert {"aks-gpu-pool", "nvidia-device-plugin-daemonset"} <= deps(dev, check)
    assert dev.by_urn(check.parent).type == "aks-gpu:index:GpuVerification"
    assert "gpu-verification-capacity" in deps(dev, dev.one(JOB))
    inputs = check.plain_inputs
    assert inputs["expectedGpus"] == 1
    assert inputs["timeoutSeconds"] == 1200
    assert inputs["selector"] == "kubernetes.azure.com/agentpool=gpu"
    assert check.custom_timeouts["create"] == "1320s"


def test_check_and_job_result_keep_the_kubeconfig_secret(dev):
    for name in ("gpu-verification-capacity", "sample-gpu-job-result"):
        resource = dev.one(DYNAMIC, name)
        assert is_secret(resource.inputs["kubeconfig"]), name
        assert FAKE_TOKEN in resource.plain_inputs["kubeconfig"]
        assert resource.additional_secret_outputs == ["kubeconfig"], name


def test_outputs_come_from_the_check_and_the_job_result(dev):
    assert dev.output("verifiedGpus") == DYNAMIC_OUTPUTS["capacity"]["verifiedGpus"]
    assert dev.output("gpuNodes") == DYNAMIC_OUTPUTS["capacity"]["gpuNodes"]
    assert dev.output("sampleJobResult") == DYNAMIC_OUTPUTS["job-result"]["result"]
    result = dev.one(DYNAMIC, "sample-gpu-job-result")
    assert "sample-gpu-job-mnist" in deps(dev, result)
    assert result.plain_inputs["jobName"] == dev.output("sampleJobName")


def test_verification_can_be_turned_off():
    run = run_program({"verifyGpus": False, **MNIST})
    assert [r.name for r in run.all(DYNAMIC)] == ["sample-gpu-job-result"]
    assert "verifiedGpus" not in run.outputs and "gpuNodes" not in run.outputs
    assert "gpu-verification-capacity" not in deps(run, run.one(JOB))


def test_scale_from_zero_runs_check_beside_the_job_that_brings_the_node():
    run = run_program({"gpuMinCount": 0, "gpuMaxCount": 2, "gpuVmSize": "Standard_NC64as_T4_v3", **MNIST})
    check = run.one(DYNAMIC, "gpu-verification-capacity")
    assert check.plain_inputs["expectedGpus"] == 4  # one node of a 4-GPU size
    assert "gpu-verification-capacity" not in deps(run, run.one(JOB))
    assert "sample-gpu-job-mnist" not in deps(run, check)


def test_scale_from_zero_without_a_job_only_records_what_is_there():
    run = run_program({"gpuMinCount": 0, "gpuMaxCount": 2, "sampleJob": False})
    assert run.one(DYNAMIC, "gpu-verification-capacity").plain_inputs["expectedGpus"] == 0


def test_managed_stack_verifies_the_aks_plugin_the_same_way():
    run = run_program({"gpuStack": "managed"})
    check = run.one(DYNAMIC, "gpu-verification-capacity")
    assert "aks-gpu-pool" in deps(run, check)
    assert run.all(DAEMONSET) == []
    assert check.plain_inputs["gpuStack"] == "managed"


# --- The providers themselves -------------------------------------------------------


def test_diff_ignores_results_and_kubeconfig_and_needs_no_cluster():
    provider = GpuCapacityCheckProvider()
    news = {"kubeconfig": "new", "expectedGpus": 1, "selector": "s", "verifiedGpus": None, "gpuNodes": None}
    olds = {"expectedGpus": 1, "selector": "s", "verifiedGpus": 1, "gpuNodes": [{"name": "n"}], "__provider": "x"}
    assert provider.diff("id", olds, news).changes is False
    assert provider.diff("id", olds, {**news, "expectedGpus": 2}).changes is True
    assert provider.diff("id", olds, {**news, "gpuPoolId": "replaced"}).changes is True


@pytest.mark.parametrize("provider", [GpuCapacityCheckProvider(), SampleJobResultProvider()])
def test_what_preview_calls_never_contacts_the_cluster(provider):
    # `pulumi preview` calls only check and diff on a dynamic provider; create and
    # update, which read the cluster, run during `pulumi up`.
    with KubeApiServer() as server:
        server.put_node(gpu_node("aks-gpu-0", labels={"kubernetes.azure.com/agentpool": "gpu"}))
        props = {"kubeconfig": server.kubeconfig(), "expectedGpus": 1, "selector": "s", "jobName": "j"}
        provider.check({}, props)
        provider.diff("id", props, {**props, "expectedGpus": 2})
        assert server.requests == []


def test_provider_is_serialised_by_reference_without_credentials():
    serialized = pulumi_dynamic.serialize_provider(GpuCapacityCheckProvider())
    assert FAKE_TOKEN not in serialized
    # A by-reference pickle stays small; by value it would drag the module in.
    assert len(serialized) < 2000


def test_capacity_check_create_reads_the_cluster():
    with KubeApiServer() as server:
        server.put_nodes(
            [
                gpu_node("aks-gpu-0", labels={"kubernetes.azure.com/agentpool": "gpu"}),
                gpu_node("aks-other-0", labels={"kubernetes.azure.com/agentpool": "other"}),
            ]
        )
        props = {
            "kubeconfig": server.kubeconfig(),
            "expectedGpus": 1,
            "timeoutSeconds": 30,
            "selector": "kubernetes.azure.com/agentpool=gpu",
            "gpuVmSize": "Standard_NC4as_T4_v3",
            "verifiedGpus": None,
            "gpuNodes": None,
        }
        result = GpuCapacityCheckProvider().create(props)
        assert server.requests  # create, unlike check and diff, reads the cluster
    assert result.outs["verifiedGpus"] == 1
    assert [node["name"] for node in result.outs["gpuNodes"]] == ["aks-gpu-0"]
    assert "kubeconfig" not in result.outs
    assert result.outs["gpuVmSize"] == "Standard_NC4as_T4_v3"


def test_capacity_check_create_fails_when_gpus_fall_short():
    from aks_gpu.verifier import GpuTimeoutError

    with KubeApiServer() as server:
        server.put_node(
            gpu_node("aks-gpu-0", capacity=1, allocatable=0, labels={"kubernetes.azure.com/agentpool": "gpu"})
        )
        props = {
            "kubeconfig": server.kubeconfig(),
            "expectedGpus": 1,
            "timeoutSeconds": 2,
            "selector": "kubernetes.azure.com/agentpool=gpu",
        }
        with pytest.raises(GpuTimeoutError) as error:
            GpuCapacityCheckProvider().create(props)
    assert "aks-gpu-0" in str(error.value)
    assert server.token not in str(error.value)


def test_job_result_create_reads_the_accuracy():
    log = "Accuracy at step 480: 0.9533\nAccuracy at step 490: 0.9494\nAdding run metadata for 499\n"
    with KubeApiServer() as server:
        server.put_job("gpu-resources", "samples-tf-mnist-demo-abc", [{"type": "Complete", "status": "True"}])
        server.put_pod(
            "gpu-resources",
            "samples-tf-mnist-demo-abc-x1",
            job="samples-tf-mnist-demo-abc",
            phase="Succeeded",
            created="2026-11-29T10:00:00Z",
            log=log,
        )
        props = {
            "kubeconfig": server.kubeconfig(),
            "namespace": "gpu-resources",
            "jobName": "samples-tf-mnist-demo-abc",
        }
        result = SampleJobResultProvider().create(props)
    assert result.outs["result"]["status"] == "Complete"
    assert result.outs["result"]["accuracy"] == 0.9494
    assert result.outs["result"]["step"] == 490
    assert "kubeconfig" not in result.outs
