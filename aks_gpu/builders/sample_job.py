"""The seed walkthrough's TensorFlow MNIST job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aks_gpu.builders.pods import PART_OF, gpu_node_affinity, tolerations_for
from aks_gpu.facts.kubernetes import GPU_RESOURCE, Taint

SAMPLE_JOB_NAME = "samples-tf-mnist-demo"


def sample_job(
    *,
    namespace_name: str,
    image: str,
    args: Iterable[str],
    pool_name: str,
    pool_taints: Iterable[Taint],
    timeout_seconds: int,
    gpu_resource: str = GPU_RESOURCE,
    name: str | None = None,
) -> dict[str, Any]:
    """The seed's TensorFlow MNIST job: one GPU (or MIG instance), restart on failure, onto the GPU pool.

    `timeout_seconds` is how long pulumi-kubernetes waits for the Job to complete;
    `gpu_resource` is what the pool advertises (nvidia.com/mig-<slice> with the mixed
    MIG strategy); without `name` the object is auto-named by Pulumi.
    """
    labels = {"app": SAMPLE_JOB_NAME, **PART_OF}
    metadata: dict[str, Any] = {
        "namespace": namespace_name,
        "labels": labels,
        # pulumi-kubernetes waits for the Job to complete; a first pull of the
        # sample image plus node scale-up can take many minutes.
        "annotations": {
            "pulumi.com/timeoutSeconds": str(timeout_seconds),
            # A Job that failed is replaced on the next `pulumi up` instead of re-awaited forever.
            "pulumi.com/replaceUnready": "true",
            # The stack's result check waits for the Job itself, diagnosing a stuck pod within
            # a minute; pulumi-kubernetes' own await would only time out (issue 16).
            "pulumi.com/skipAwait": "true",
        },
    }
    if name:
        metadata["name"] = name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 4,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "affinity": gpu_node_affinity(pool_name),
                    "tolerations": tolerations_for(pool_taints),
                    "containers": [
                        {
                            "name": SAMPLE_JOB_NAME,
                            "image": image,
                            "args": list(args),
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {"limits": {gpu_resource: 1}},
                            "securityContext": {"allowPrivilegeEscalation": False},
                        }
                    ],
                },
            },
        },
    }
