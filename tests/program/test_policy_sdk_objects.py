"""Custom resources declared through pulumi-kubernetes itself reach the pod rules: CustomResource and ConfigGroup.

The objects go through the real SDK under the mock engine, so the type token
and input shape are the SDK's (`kubernetes:ray.io/v1:RayCluster`, the object's
fields as inputs), not a hand-made imitation of them.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from policy import rules
from tests.support.policy_stack import GPU_TOLERATION, cpu_container, dev_stack
from tests.support.sdk_objects import register

RAY_YAML = f"""
apiVersion: ray.io/v1
kind: RayCluster
metadata: {{name: from-yaml}}
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{{name: head, image: rayproject/ray:2.40.0}}]
  workerGroupSpecs:
  - groupName: gpu
    template:
      spec:
        tolerations: [{GPU_TOLERATION}]
        containers: [{{name: worker, image: rayproject/ray:2.40.0-gpu}}]
---
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {{name: jobs}}
spec:
  replicatedJobs:
  - name: workers
    template:
      spec:
        template:
          spec:
            tolerations: [{GPU_TOLERATION}]
            containers: [{{name: w, image: busybox, securityContext: {{privileged: true}}}}]
"""


def pytorch_job() -> None:
    pod = {"tolerations": [GPU_TOLERATION], "containers": [cpu_container()]}
    k8s.apiextensions.CustomResource(
        "torch",
        api_version="kubeflow.org/v1",
        kind="PyTorchJob",
        metadata={"name": "torch"},
        spec={"pytorchReplicaSpecs": {"Worker": {"replicas": 2, "template": {"spec": pod}}}},
    )


def test_a_custom_resource_of_the_sdk_is_checked():
    [torch] = register(pytorch_job)
    assert torch.type == "kubernetes:kubeflow.org/v1:PyTorchJob"
    [violation] = rules.gpu_workload_violations([*dev_stack(), torch])
    assert violation.urn == torch.urn and "PyTorchJob 'torch' at spec.pytorchReplicaSpecs.Worker" in violation.message


def test_objects_a_config_group_expands_are_checked():
    registered = register(lambda: k8s.yaml.ConfigGroup("group", yaml=[RAY_YAML]))
    by_type = {r.type: r for r in registered}
    ray, jobs = by_type["kubernetes:ray.io/v1:RayCluster"], by_type["kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"]
    violations = rules.gpu_workload_violations([*dev_stack(), *registered])
    assert {v.urn for v in violations} == {ray.urn, jobs.urn}
    assert any("workerGroupSpecs[0].template.spec" in v.message for v in violations)
    [privileged] = rules.privilege_violations(jobs.type, jobs.props)
    assert "JobSet 'jobs' at spec.replicatedJobs[0]" in privileged and "is privileged" in privileged
