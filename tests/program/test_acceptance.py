"""The GPU acceptance workload as the program registers it (issue: every GPU accepted)."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from aks_gpu.builders.acceptance import acceptance_files
from aks_gpu.facts.acceptance_references import MODEL_REFERENCES, SIZE_FLOORS
from aks_gpu.workloads.gpu_acceptance import EXPECTATION_ENV
from policy import rules
from tests.support.harness import FAKE_TOKEN, Run, is_secret, run_program
from tests.support.policy_stack import program_stack

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


def test_a_t4_is_judged_against_nvidias_sustained_figure_and_its_copy_is_uncalibrated(t4_pool):
    exp = expectation(t4_pool)
    assert (exp["model"], exp["dtype"], exp["gpus"], exp["devices"], exp["nvlink"]) == ("Tesla T4", "fp16", 4, 4, False)
    matmul, copy = exp["checks"]["matmul"], exp["checks"]["copy"]
    # NVIDIA's forum: about 24 TFLOP/s sustained at 70 W; a published figure passes at 0.80 of it.
    assert (matmul["floor"], matmul["reference"], matmul["basis"]) == (19.2, 24.0, "published")
    assert "forums.developer.nvidia.com" in matmul["source"]
    assert (copy["floor"], copy["basis"]) == (160.0, "datasheet") and "uncalibrated" in copy["source"]
    # No aznhc conf for the T4: host and GPU-to-GPU figures are reported, not judged.
    assert [exp["checks"][c]["floor"] for c in ("h2d", "d2h", "p2p", "allreduce")] == [None] * 4


def test_an_nd_h200_node_is_judged_against_measured_figures_and_azures_floors():
    run = run_program({"gpuVmSize": "Standard_ND96isr_H200_v5", "acceptanceMinFraction": "0.6"})
    exp = expectation(run)
    assert (exp["gpus"], exp["devices"], exp["nvlink"], exp["allreduceBytes"]) == (8, 8, True, 16 << 30)
    floors = {name: (check["floor"], check["basis"]) for name, check in exp["checks"].items()}
    assert floors == {
        "matmul": (607.5, "measured"),
        "copy": (3825.0, "measured"),
        "h2d": (48.0, "aznhc"),
        "d2h": (48.0, "aznhc"),
        "p2p": (335.0, "aznhc"),
        "allreduce": (431.0, "aznhc"),
    }
    assert "nd96isr_h200_v5.conf" in exp["checks"]["allreduce"]["source"]
    assert pod(run)["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 8}}


@pytest.mark.parametrize(
    ("size", "model", "matmul", "h2d", "allreduce"),
    [
        ("Standard_NC4as_T4_v3", "Tesla T4", ("published", 19.2), None, None),
        ("Standard_NV36ads_A10_v5", "NVIDIA A10", ("datasheet", 62.5), None, None),
        ("Standard_NC24ads_A100_v4", "NVIDIA A100 80GB PCIe", ("datasheet", 156.0), 21.0, None),
        ("Standard_NC96ads_A100_v4", "NVIDIA A100 80GB PCIe", ("datasheet", 156.0), 21.0, 25.0),
        ("Standard_NC40ads_H100_v5", "NVIDIA H100 NVL", ("datasheet", 417.8), 48.0, None),
        ("Standard_NC80adis_H100_v5", "NVIDIA H100 NVL", ("datasheet", 417.8), 48.0, 208.0),
        ("Standard_ND96asr_v4", "NVIDIA A100-SXM4-40GB", ("datasheet", 156.0), 21.0, 228.0),
        ("Standard_ND96amsr_A100_v4", "NVIDIA A100-SXM4-80GB", ("published", 203.0), 21.0, 228.0),
        ("Standard_ND96isr_H100_v5", "NVIDIA H100 80GB HBM3", ("datasheet", 494.8), 48.0, 460.0),
        ("Standard_ND96isr_H200_v5", "NVIDIA H200", ("measured", 607.5), 48.0, 431.0),
    ],
)
def test_each_catalog_size_gets_its_expectation_with_sources(size, model, matmul, h2d, allreduce):
    exp = expectation(run_program({"gpuVmSize": size}))
    checks = exp["checks"]
    assert exp["model"] == model and (checks["matmul"]["basis"], checks["matmul"]["floor"]) == matmul
    assert checks["h2d"]["floor"] == h2d and checks.get("allreduce", {}).get("floor") == allreduce
    for check in checks.values():
        assert check["floor"] is None or check["source"], (size, check)  # every floor says where it comes from
    if size in SIZE_FLOORS:
        assert SIZE_FLOORS[size].source in checks["h2d"]["source"]
    if model in MODEL_REFERENCES and "matmul" in MODEL_REFERENCES[model]:
        assert checks["matmul"]["source"] == MODEL_REFERENCES[model]["matmul"].source


def test_a_mig_instance_is_expected_to_reach_its_datasheet_share_uncalibrated():
    run = run_program({"gpuVmSize": "Standard_NC24ads_A100_v4", "gpuMigProfile": "MIG1g", "gpuMigStrategy": "mixed"})
    checks = expectation(run)["checks"]
    # 1g: 1/7 of the SMs and 1/8 of the memory of an A100 80GB PCIe (312 TFLOP/s, 1,935 GB/s), times 0.5.
    assert (checks["matmul"]["floor"], checks["matmul"]["basis"]) == (round(312 / 7 * 0.5, 1), "datasheet")
    assert "uncalibrated" in checks["matmul"]["source"]
    assert checks["copy"]["floor"] == round(1935 / 8 * 0.5, 1) and checks["h2d"]["floor"] is None
    assert "p2p" not in checks and expectation(run)["devices"] == 7
    assert pod(run)["containers"][0]["resources"] == {"limits": {"nvidia.com/mig-1g.10gb": 7}}


def test_the_package_comes_from_the_repository_through_a_config_map(t4_pool):
    config_map = t4_pool.one(CONFIG_MAP).plain_inputs
    files = acceptance_files()
    assert config_map["data"] == files and {"__init__.py", "__main__.py", "node.py", "measure.py"} <= set(files)
    assert "AKS_GPU_ACCEPTANCE" in config_map["data"]["__init__.py"]
    container = pod(t4_pool)["containers"][0]
    assert {"name": "script", "mountPath": "/scripts/gpu_acceptance", "readOnly": True} in container["volumeMounts"]
    # Auto-named by Pulumi, so a new package makes a new ConfigMap and a new Job.
    assert pod(t4_pool)["volumes"][0]["configMap"]["name"].startswith("gpu-acceptance-script-")
    assert container["command"][-1].startswith("python3 -m gpu_acceptance;")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PYTHONPATH"] == "/scripts" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert container["env"][1] == {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}


@pytest.mark.parametrize(
    ("size", "gpus"), [("Standard_NC4as_T4_v3", 1), ("Standard_NC96ads_A100_v4", 4), ("Standard_ND96isr_H200_v5", 8)]
)
def test_the_job_for_1_4_and_8_gpus_is_schema_valid_and_passes_the_policy_pack(size, gpus):
    run = run_program({"gpuVmSize": size, "gpuNodeCount": 2})
    job = run.one(JOB).plain_inputs
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["completionMode"]) == (2, 2, "Indexed")
    template = spec["template"]["spec"]
    container = template["containers"][0]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": gpus}}
    # NCCL in a container: more shared memory than the runtime's 64 MiB /dev/shm.
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}} in template["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    anti = template["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert expectation(run)["gpus"] == gpus
    for obj in (job, run.one(CONFIG_MAP).plain_inputs):
        named = {**obj, "metadata": {**obj["metadata"], "name": "gpu-acceptance-x"}}
        kubernetes_validate.validate(named, "1.33.0", strict=True)
    results = rules.evaluate(program_stack({"gpuVmSize": size, "gpuNodeCount": 2}))
    mandatory = {rule.name for rule in rules.RULES if rule.enforcement != rules.ADVISORY}
    assert {name: found for name, found in results.items() if found and name in mandatory} == {}


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


def test_the_acceptance_table_is_a_stack_output():
    run = run_program()
    assert run.output("gpuAcceptanceSummary") == "| run | node | GPU |\n| 1 | aks-gpu-0 | 0 |\n"
    assert run.output("gpuAcceptanceSummary") == run.output("gpuAcceptance")["table"]


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


def test_the_stacks_own_references_replace_the_catalogs_floors():
    run = run_program({"gpuVmSize": "Standard_NV36ads_A10_v5", "acceptanceReferences": ["matmul=70", "h2d=20.5"]})
    checks = expectation(run)["checks"]
    assert checks["matmul"] == {
        "floor": 63.0,
        "reference": 70.0,
        "basis": "stack",
        "source": "acceptanceReferences: this stack's own healthy run",
    }
    assert (checks["h2d"]["floor"], checks["h2d"]["basis"]) == (18.4, "stack")
    assert checks["copy"]["basis"] == "datasheet"  # the others keep the catalog's
