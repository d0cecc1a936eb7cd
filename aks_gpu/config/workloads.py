"""Settings of what runs on the GPU pool: the namespace, the device plugin and the sample job."""

from __future__ import annotations

import dataclasses
import re

from aks_gpu.config.project import ConfigReader
from aks_gpu.facts.kubernetes import DNS_LABEL

_IMAGE = re.compile(r"[^\s]+")


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
        namespace=r.matching("gpuNamespace", DNS_LABEL, "a Kubernetes namespace name (DNS label)") or "",
        device_plugin_image=r.matching("devicePluginImage", _IMAGE, "a container image reference") or "",
        sample_job=r.boolean("sampleJob"),
        sample_job_image=r.matching("sampleJobImage", _IMAGE, "a container image reference") or "",
        sample_job_args=r.string_list("sampleJobArgs"),
    )
