"""The pod rules reach pod templates in any kind of object, and grant the device plugin's exemptions per container.

Custom resources are written as pulumi-kubernetes registers them
(`kubernetes:<group>/<version>:<Kind>`, the object's fields as inputs); the
shapes are those of the operators' own CRDs (KubeRay v1, Kubeflow training
operator v1, JobSet v1alpha2, Argo Workflows v1alpha1).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aks_gpu.facts import device_plugin
from policy import rules
from tests.support.policy_stack import (
    DAEMONSET,
    DEPLOYMENT,
    GPU_TOLERATION,
    HELM_RELEASE,
    cpu_container,
    dev_stack,
    find,
    res,
    urn,
    workload,
)

GPU_LIMITS = {"resources": {"limits": {"nvidia.com/gpu": 1}}}


def gpu_pod(**container: Any) -> dict[str, Any]:
    """A pod spec aimed at the GPU pool by its taint's toleration."""
    return {"tolerations": [GPU_TOLERATION], "containers": [cpu_container(**container)]}


def template(pod: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": pod}


def ray_cluster(worker: dict[str, Any], head: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "headGroupSpec": {"rayStartParams": {}, "template": template(head or {"containers": [cpu_container()]})},
        "workerGroupSpecs": [
            {"groupName": "cpu", "replicas": 1, "template": template({"containers": [cpu_container()]})},
            {"groupName": "gpu", "replicas": 2, "template": template(worker)},
        ],
    }


def replica_specs(field: str, roles: tuple[str, ...]):
    def build(pod: dict[str, Any]) -> dict[str, Any]:
        return {field: {role: {"replicas": 1, "template": template(copy.deepcopy(pod))} for role in roles}}

    return build


def job_set(pod: dict[str, Any]) -> dict[str, Any]:
    job = {"parallelism": 2, "template": template(pod)}
    return {"replicatedJobs": [{"name": "workers", "replicas": 1, "template": {"spec": job}}]}


# (type token, builder of the spec around one pod spec, where the GPU pod spec sits)
CUSTOM_KINDS = [
    ("kubernetes:ray.io/v1:RayCluster", ray_cluster, "spec.workerGroupSpecs[1].template.spec"),
    (
        "kubernetes:kubeflow.org/v1:PyTorchJob",
        replica_specs("pytorchReplicaSpecs", ("Master",)),
        "spec.pytorchReplicaSpecs.Master.template.spec",
    ),
    ("kubernetes:kubeflow.org/v1:TFJob", replica_specs("tfReplicaSpecs", ("Worker",)), "spec.tfReplicaSpecs.Worker"),
    ("kubernetes:kubeflow.org/v2beta1:MPIJob", replica_specs("mpiReplicaSpecs", ("Worker",)), "spec.mpiReplicaSpecs"),
    ("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet", job_set, "spec.replicatedJobs[0].template.spec.template.spec"),
    ("kubernetes:ray.io/v1:RayClusterPatch", ray_cluster, "spec.workerGroupSpecs[1]"),
    ("kubernetes:example.com/v1:AnyOperatorsKind", lambda pod: {"a": [{"b": {"podTemplate": template(pod)}}]}, "a[0]"),
]
IDS = [kind.rsplit(":", 1)[-1] for kind, _, _ in CUSTOM_KINDS]


def custom(type_: str, spec: dict[str, Any], name: str = "train") -> rules.Resource:
    group_version, kind = type_.removeprefix("kubernetes:").rsplit(":", 1)
    return res(type_, name, {"apiVersion": group_version, "kind": kind, "metadata": {"name": name}, "spec": spec})


@pytest.mark.parametrize(("type_", "build", "where"), CUSTOM_KINDS, ids=IDS)
def test_a_custom_resource_on_the_gpu_pool_without_a_gpu_is_refused(type_, build, where):
    bad = custom(type_, build(gpu_pod()))
    [violation] = rules.gpu_workload_violations([*dev_stack(), bad])
    assert violation.urn == bad.urn and where in violation.message and "'train'" in violation.message


@pytest.mark.parametrize(("type_", "build", "where"), CUSTOM_KINDS, ids=IDS)
def test_a_custom_resource_that_takes_its_gpu_passes(type_, build, where):
    good = custom(type_, build(gpu_pod(**GPU_LIMITS)))
    assert rules.evaluate([*dev_stack(), good])["gpu-workloads-request-gpu"] == []


@pytest.mark.parametrize(("type_", "build", "where"), CUSTOM_KINDS, ids=IDS)
def test_privilege_is_refused_in_a_custom_resources_pod_template(type_, build, where):
    pod = gpu_pod(**GPU_LIMITS, securityContext={"privileged": True})
    pod["volumes"] = [{"name": "root", "hostPath": {"path": "/"}}]
    messages = rules.privilege_violations(type_, custom(type_, build(pod)).props)
    assert any("is privileged" in m and where in m for m in messages), messages
    assert any("mounts hostPath /" in m for m in messages), messages


def test_every_pod_template_of_a_ray_cluster_is_found():
    ray = "kubernetes:ray.io/v1:RayCluster"
    found = rules.pod_specs(ray, custom(ray, ray_cluster(gpu_pod())).props)
    assert [at.where for at in found] == [
        "spec.headGroupSpec.template.spec",
        "spec.workerGroupSpecs[0].template.spec",
        "spec.workerGroupSpecs[1].template.spec",
    ]


def test_what_the_preview_cannot_know_and_what_holds_no_pod_is_left_alone():
    ray = "kubernetes:ray.io/v1:RayCluster"
    assert rules.pod_specs(ray, {"spec": rules.UNKNOWN}) == []
    unknown_containers = {"spec": {"workerGroupSpecs": [{"template": {"spec": {"containers": rules.UNKNOWN}}}]}}
    [at] = rules.pod_specs(ray, unknown_containers)
    assert rules.gpu_limit_problem(at.spec) is None
    # A CRD's schema names `containers` but holds no list of them; a Helm release's values are the chart's.
    schema = {"spec": {"versions": [{"schema": {"properties": {"containers": {"type": "array"}}}}]}}
    assert rules.pod_specs("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", schema) == []
    assert rules.pod_specs(HELM_RELEASE, {"values": {"containers": [cpu_container()]}}) == []
    assert rules.pod_specs("kubernetes:yaml/v2:ConfigGroup", {"objs": [{"spec": {"containers": []}}]}) == []


ARGO_WORKFLOW = "kubernetes:argoproj.io/v1alpha1:Workflow"


def argo(templates: list[dict[str, Any]], **workflow: Any) -> dict[str, Any]:
    return {"metadata": {"name": "wf"}, "spec": {"entrypoint": "main", "templates": templates, **workflow}}


def test_argo_templates_take_placement_from_the_workflow_and_are_judged_each():
    steps = {"name": "main", "steps": [[{"name": "train", "template": "train"}]]}
    train = {"name": "train", "container": cpu_container()}
    gpu = {"name": "gpu", "container": cpu_container(**GPU_LIMITS)}
    props = argo([steps, train, gpu], tolerations=[GPU_TOLERATION])
    [violation] = rules.gpu_workload_violations([*dev_stack(), res(ARGO_WORKFLOW, "wf", props)])
    assert "spec.templates[1] 'train'" in violation.message and "toleration" in violation.message
    # A template's own node selector replaces the workflow's (Argo's order): off the GPU pool here.
    own = {**train, "nodeSelector": {"kubernetes.azure.com/agentpool": "system"}, "tolerations": []}
    assert rules.gpu_workload_violations([*dev_stack(), res(ARGO_WORKFLOW, "wf", argo([own], tolerations=[]))]) == []


@pytest.mark.parametrize(
    ("type_", "wrap"),
    [
        ("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate", lambda spec: spec),
        ("kubernetes:argoproj.io/v1alpha1:ClusterWorkflowTemplate", lambda spec: spec),
        ("kubernetes:argoproj.io/v1alpha1:CronWorkflow", lambda spec: {"schedule": "@daily", "workflowSpec": spec}),
    ],
)
def test_argo_scripts_container_sets_and_sidecars_are_containers(type_, wrap):
    script = {"name": "s", "script": {"image": "python", "source": "print(1)"}, "tolerations": [GPU_TOLERATION]}
    sets = {"name": "c", "containerSet": {"containers": [cpu_container(securityContext={"privileged": True})]}}
    side = {
        "name": "d",
        "container": cpu_container(),
        "sidecars": [cpu_container(securityContext={"privileged": True})],
    }
    props = {"metadata": {"name": "wf"}, "spec": wrap({"templates": [script, sets, side], "hostNetwork": True})}
    [gpu] = rules.gpu_workload_violations([*dev_stack(), res(type_, "wf", props)])
    assert "'s'" in gpu.message
    messages = rules.privilege_violations(type_, props)
    assert sum("is privileged" in m for m in messages) == 2
    assert sum("hostNetwork: true" in m for m in messages) == 3


# --- The device plugin's exemptions, per container and for its publishers' images only ----------


def plugin_container(image: str = "nvcr.io/nvidia/k8s-device-plugin:v0.18.0") -> dict[str, Any]:
    mount = [{"name": "dp", "mountPath": device_plugin.SOCKET_DIR}]
    return {
        "name": "plugin",
        "image": image,
        "securityContext": {"allowPrivilegeEscalation": False},
        "volumeMounts": mount,
    }


SOCKET_VOLUME = {"name": "dp", "hostPath": {"path": device_plugin.SOCKET_DIR}}


def test_a_decoy_plugin_container_exempts_only_itself_from_taking_a_gpu():
    alone = workload(DEPLOYMENT, "plugin", {"tolerations": [GPU_TOLERATION], "containers": [plugin_container()]})
    assert rules.gpu_workload_violations([*dev_stack(), alone]) == []
    decoy = workload(
        DEPLOYMENT, "decoy", {"tolerations": [GPU_TOLERATION], "containers": [plugin_container(), cpu_container()]}
    )
    [violation] = rules.gpu_workload_violations([*dev_stack(), decoy])
    assert violation.urn == urn(DEPLOYMENT, "decoy")


def test_only_the_plugin_container_may_mount_the_socket_directory():
    ok = workload(
        DAEMONSET, "plugin", {"containers": [plugin_container(), cpu_container()], "volumes": [SOCKET_VOLUME]}
    )
    assert rules.privilege_violations(DAEMONSET, ok.props) == []
    neighbour = cpu_container(volumeMounts=[{"name": "dp", "mountPath": "/host"}])
    bad = workload(DAEMONSET, "plugin", {"containers": [plugin_container(), neighbour], "volumes": [SOCKET_VOLUME]})
    [message] = rules.privilege_violations(DAEMONSET, bad.props)
    assert "volume 'dp' mounts hostPath" in message and "no other container" in message


def test_a_decoy_plugin_container_grants_no_capability_to_its_neighbours():
    env = [{"name": device_plugin.MIG_STRATEGY_ENV, "value": "mixed"}]
    plugin = {**plugin_container(), "env": env, "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}
    neighbour = cpu_container(env=env, securityContext={"capabilities": {"add": ["SYS_ADMIN"]}})
    props = workload(DAEMONSET, "p", {"containers": [plugin, neighbour], "volumes": [SOCKET_VOLUME]}).props
    [message] = rules.privilege_violations(DAEMONSET, props)
    assert "container 'app' adds ['SYS_ADMIN']" in message


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/someone/k8s-device-plugin:v0.18.0",
        "someone/k8s-device-plugin:v0.18.0",
        "nvidia/k8s-device-plugin:v0.18.0",
        "myacr.azurecr.io/nvidia/k8s-device-plugin@sha256:" + "a" * 64,
        "nvcr.io/someone/k8s-device-plugin:v0.18.0",
        "evil.example/nvcr.io/nvidia/k8s-device-plugin:v0.18.0",
    ],
)
def test_the_plugins_name_from_another_registry_is_not_exempt(image, gpu_stack="device-plugin"):
    assert not device_plugin.is_device_plugin_image(image) and device_plugin.names_device_plugin(image)
    stack = dev_stack(gpu_stack)
    plugin = find(stack, DAEMONSET)
    props = copy.deepcopy(dict(plugin.props))
    props["spec"]["template"]["spec"]["containers"][0]["image"] = image
    [message] = rules.privilege_violations(DAEMONSET, props)
    assert "mounts hostPath /var/lib/kubelet/device-plugins" in message
    # Refusing a second plugin beside the managed GPU stack still recognises it by name.
    assert rules.looks_like_device_plugin(DAEMONSET, props)


@pytest.mark.parametrize(
    "image",
    [
        "nvcr.io/nvidia/k8s-device-plugin:v0.18.0",
        "nvcr.io/nvidia/k8s-device-plugin@sha256:" + "a" * 64,
        "nvcr.io/nvidia/k8s-device-plugin:v0.20.0@sha256:" + "a" * 64,
        device_plugin.SEED_IMAGE,
    ],
)
def test_the_publishers_images_are_exempt(image):
    assert device_plugin.is_device_plugin_image(image)
    props = workload(DAEMONSET, "p", {"containers": [plugin_container(image)], "volumes": [SOCKET_VOLUME]}).props
    assert rules.privilege_violations(DAEMONSET, props) == []
