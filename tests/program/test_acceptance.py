"""The GPU acceptance workload as the program registers it (issue: every GPU accepted)."""

from __future__ import annotations

import json

import pytest

from aks_gpu.builders.acceptance import acceptance_script
from aks_gpu.workloads.gpu_acceptance import EXPECTATION_ENV
from tests.support.harness import FAKE_TOKEN, Run, is_secret, run_program

JOB = "kubernetes:batch/v1:Job"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DYNAMIC = "pulumi-python:dynamic:Resource"


def pod(run: Run) -> dict:
    return run.one(JOB).plain_inputs["spec"]["template"]["spec"]


def expectation(run: Run) -> dict:
    env = {e["name"]: e.get("value") for e in pod(run)["containers"][0]["env"]}
    return json.loads(env[EXPECTATION_ENV])


def deps(run: Run, resource) -> set[str]:
    return {run.by_urn(urn).name for urn in resource.dependencies}


@pytest.fixture(scope="module")
def t4_pool() -> Run:
    return run_program({"gpuVmSize": "Standard_NC64as_T4_v3", "gpuNodeCount": 3})


def test_one_pod_per_node_taking_all_its_gpus(t4_pool):
    spec = t4_pool.one(JOB).plain_inputs["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti == [
        {"labelSelector": {"matchLabels": {"app": "gpu-acceptance"}}, "topologyKey": "kubernetes.io/hostname"}
    ]
    assert spec["template"]["metadata"]["labels"]["app"] == "gpu-acceptance"
    container = pod(t4_pool)["containers"][0]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": 4}}
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod(t4_pool)["tolerations"]
    assert pod(t4_pool)["restartPolicy"] == "Never"


def test_each_gpu_is_judged_against_its_datasheet(t4_pool):
    assert expectation(t4_pool) == {
        "model": "Tesla T4",
        "dtype": "fp16",
        "tflops": 65.0,
        "gbps": 320.0,
        "minFraction": 0.5,
    }
    run = run_program({"gpuVmSize": "Standard_ND96isr_H200_v5", "acceptanceMinFraction": "0.6"})
    assert expectation(run) == {
        "model": "NVIDIA H200",
        "dtype": "bf16",
        "tflops": 989.5,
        "gbps": 4800.0,
        "minFraction": 0.6,
    }
    assert pod(run)["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 8}}
    assert run.output("expectedGpus") == 8


def test_a_mig_instance_is_expected_to_reach_its_share():
    run = run_program({"gpuVmSize": "Standard_NC24ads_A100_v4", "gpuMigProfile": "MIG1g", "gpuMigStrategy": "mixed"})
    # 1g: 1/7 of the SMs and 1/8 of the memory of an A100 80GB PCIe (312 TFLOP/s, 1,935 GB/s).
    assert expectation(run)["tflops"] == round(312 / 7, 1)
    assert expectation(run)["gbps"] == round(1935 / 8, 1)
    assert pod(run)["containers"][0]["resources"] == {"limits": {"nvidia.com/mig-1g.10gb": 7}}


def test_the_script_comes_from_the_repository_through_a_config_map(t4_pool):
    config_map = t4_pool.one(CONFIG_MAP).plain_inputs
    assert config_map["data"] == {"gpu_acceptance.py": acceptance_script()}
    assert "AKS_GPU_ACCEPTANCE" in config_map["data"]["gpu_acceptance.py"]
    container = pod(t4_pool)["containers"][0]
    assert container["volumeMounts"] == [{"name": "script", "mountPath": "/scripts", "readOnly": True}]
    # Auto-named by Pulumi, so a new script makes a new ConfigMap and a new Job.
    assert pod(t4_pool)["volumes"][0]["configMap"]["name"].startswith("gpu-acceptance-script-")
    assert "python3 /scripts/gpu_acceptance.py" in container["command"][-1]
    assert container["env"][1] == {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}


def test_ordering_and_secrecy(t4_pool):
    job = t4_pool.one(JOB)
    assert {"aks-gpu-pool", "nvidia-device-plugin-daemonset", "gpu-verification-capacity"} <= deps(t4_pool, job)
    result = t4_pool.one(DYNAMIC, "gpu-acceptance-result")
    assert "gpu-acceptance-job" in deps(t4_pool, result)
    assert is_secret(result.inputs["kubeconfig"]) and FAKE_TOKEN in result.plain_inputs["kubeconfig"]
    assert result.additional_secret_outputs == ["kubeconfig"]
    annotations = job.plain_inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/replaceUnready"] == "true"
    assert int(annotations["pulumi.com/timeoutSeconds"]) >= 1800


def test_a_pool_that_scales_from_zero_runs_one_pod():
    run = run_program({"gpuVmSize": "Standard_NC64as_T4_v3", "gpuMinCount": 0, "gpuMaxCount": 4})
    spec = run.one(JOB).plain_inputs["spec"]
    assert (spec["completions"], spec["parallelism"]) == (1, 1)
    # The pod brings the node up, so it cannot wait for the check that waits for that node.
    assert "gpu-verification-capacity" not in deps(run, run.one(JOB))


def test_a_changed_script_or_pool_changes_the_job():
    base = run_program({"gpuNodeCount": 2}).one(JOB).plain_inputs
    bigger = run_program({"gpuNodeCount": 3}).one(JOB).plain_inputs
    other_size = run_program({"gpuNodeCount": 2, "gpuVmSize": "Standard_NC64as_T4_v3"}).one(JOB).plain_inputs
    assert base["spec"] != bigger["spec"] and base["spec"] != other_size["spec"]
    digest = base["spec"]["template"]["metadata"]["annotations"]["aks-gpu/script-sha256"]
    assert len(digest) == 64


def test_mnist_is_one_key_away():
    run = run_program({"sampleWorkload": "mnist"})
    assert run.all(CONFIG_MAP) == []
    container = pod(run)["containers"][0]
    assert container["image"] == "mcr.microsoft.com/azuredocs/samples-tf-mnist-demo:gpu"
    assert container["args"] == ["--max_steps", "500"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert "gpuAcceptance" not in run.outputs and run.output("sampleJobResult")["accuracy"] == 0.97


def test_a_fixed_pool_waits_for_the_verification_before_asking_for_gpus():
    run = run_program({"gpuNodeCount": 2})
    assert "gpu-verification-capacity" in deps(run, run.one(JOB))
