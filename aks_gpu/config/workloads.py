"""Settings of what runs on the GPU pool: the namespace, the device plugin and the sample job."""

from __future__ import annotations

import dataclasses

from aks_gpu.config import validate
from aks_gpu.config.project import ConfigReader
from aks_gpu.facts.kubernetes import DNS_LABEL


@dataclasses.dataclass(frozen=True)
class WorkloadSettings:
    """Kubernetes workloads of the stack.

    Attributes:
        namespace: namespace of the device plugin and the sample job.
        device_plugin_image: image of the NVIDIA device plugin DaemonSet.
        sample_job: whether the sample GPU job runs.
        sample_job_image: image of the sample job.
        sample_job_args: arguments of the sample job's container.
    """

    namespace: str
    device_plugin_image: str
    sample_job: bool
    sample_job_image: str
    sample_job_args: tuple[str, ...]


def read_workloads(r: ConfigReader) -> WorkloadSettings:
    """Validate the workloads' keys, recording every problem in `r`."""
    return WorkloadSettings(
        namespace=_namespace(r),
        device_plugin_image=_image(r, "devicePluginImage"),
        sample_job=r.boolean("sampleJob"),
        sample_job_image=_image(r, "sampleJobImage"),
        sample_job_args=_args(r),
    )


def _namespace(r: ConfigReader) -> str:
    name = r.matching("gpuNamespace", DNS_LABEL, "a Kubernetes namespace name (DNS label, at most 63 characters)")
    problem = validate.namespace_problem(name) if name else None
    if problem:
        r.fail("gpuNamespace", name, problem)
    return name or ""


def _image(r: ConfigReader, key: str) -> str:
    image = r.string(key)
    problem = validate.image_reference_problem(image)
    if problem and key not in r.refused:
        r.fail(key, image, problem)
    return image


def _args(r: ConfigReader) -> tuple[str, ...]:
    # Arguments may hold tabs and newlines (exec passes them on); other control
    # characters are refused. The reader's bound on every value (MAX_VALUE_CHARS)
    # keeps them far below Linux's exec limits and the API server's object size.
    return r.string_list("sampleJobArgs", control_allowed="\t\n")
