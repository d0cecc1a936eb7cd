"""Kubernetes objects: derived tolerations, and validity against the real OpenAPI schemas."""

from __future__ import annotations

import kubernetes_validate
import pytest

from aks_gpu.builders import pods
from aks_gpu.builders.device_plugin import device_plugin_daemonset
from aks_gpu.builders.sample_job import sample_job
from aks_gpu.facts.kubernetes import Taint
from tests.support.harness import run_program

# AKS's supported minors move every few months; the manifests use only stable
# APIs, so they are checked against a spread of versions up to the newest schema.
SCHEMA_VERSIONS = ("1.31.0", "1.33.0", "1.35.0", "1.37.0")
TAINTS = tuple(
    Taint.parse(text)
    for text in ("sku=gpu:NoSchedule", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule", "dedicated:NoExecute")
)


def test_tolerations_follow_taints():
    assert Taint.parse("sku=gpu:NoSchedule").toleration() == {
        "key": "sku",
        "operator": "Equal",
        "value": "gpu",
        "effect": "NoSchedule",
    }
    assert Taint.parse("dedicated:NoExecute").toleration() == {
        "key": "dedicated",
        "operator": "Exists",
        "effect": "NoExecute",
    }
    assert Taint.parse("nvidia.com/gpu=present:PreferNoSchedule").toleration()["key"] == "nvidia.com/gpu"


def rendered() -> list[dict]:
    daemonset = device_plugin_daemonset(
        namespace_name="gpu-resources",
        image="nvcr.io/nvidia/k8s-device-plugin:v0.18.0",
        pool_name="gpu",
        pool_taints=TAINTS,
    )
    job = sample_job(
        namespace_name="gpu-resources",
        image="mcr.microsoft.com/azuredocs/samples-tf-mnist-demo:gpu",
        args=["--max_steps", "500"],
        pool_name="gpu",
        pool_taints=TAINTS,
        timeout_seconds=1800,
    )
    return [pods.namespace("gpu-resources"), daemonset, pods.with_name(job, "samples-tf-mnist-demo-1")]


def registered_by_the_program(overrides: dict | None = None) -> list[dict]:
    run = run_program({"gpuSpot": True, **(overrides or {})})
    objects = []
    for resource in run.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm"):
            continue
        inputs = resource.plain_inputs
        # Pulumi auto-names objects without metadata.name; the schema needs one.
        objects.append(pods.with_name(inputs, inputs["metadata"].get("name", "auto-named")))
    assert {"Namespace", "DaemonSet", "Job"} <= {o["kind"] for o in objects}
    return objects


MIG = {"gpuVmSize": "Standard_NC96ads_A100_v4", "gpuMigProfile": "MIG1g"}


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_rendered_objects_are_valid_in_strict_mode(version):
    registered = registered_by_the_program() + registered_by_the_program({**MIG, "gpuMigStrategy": "mixed"})
    for obj in rendered() + registered:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("kubernetes_version", ["1.31", "1.34.2"])
def test_objects_are_valid_for_the_configured_cluster_version(kubernetes_version):
    major_minor = ".".join(kubernetes_version.split(".")[:2])
    for obj in registered_by_the_program({"kubernetesVersion": kubernetes_version}):
        kubernetes_validate.validate(obj, f"{major_minor}.0", strict=True)


def test_the_schema_check_catches_a_broken_object():
    daemonset = rendered()[1]
    daemonset["spec"]["template"]["spec"]["tolerations"][0]["operater"] = "Exists"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, SCHEMA_VERSIONS[-1], strict=True)


def test_every_pool_taint_is_tolerated_by_plugin_and_job():
    _, daemonset, job = rendered()
    for obj in (daemonset, job):
        tolerations = obj["spec"]["template"]["spec"]["tolerations"]
        for taint in TAINTS:
            assert taint.toleration() in tolerations


def test_device_plugin_requests_no_gpu_and_job_requests_exactly_one():
    _, daemonset, job = rendered()
    assert "resources" not in daemonset["spec"]["template"]["spec"]["containers"][0]
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 1}
