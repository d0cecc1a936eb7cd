"""Settings of what runs on the GPU pool: the namespace, the device plugin and the sample job."""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

from aks_gpu.config import validate
from aks_gpu.config.project import ConfigReader
from aks_gpu.facts.acceptance_references import CHECK_NAMES
from aks_gpu.facts.device_plugin import TRUSTED_REPOSITORIES, is_device_plugin_image
from aks_gpu.facts.kubernetes import DNS_LABEL

# The sample workloads: the GPU acceptance test on every node, or the walkthrough's MNIST job.
SampleWorkload = Literal["acceptance", "mnist"]
ACCEPTANCE: SampleWorkload = "acceptance"
MNIST: SampleWorkload = "mnist"
SAMPLE_WORKLOADS: tuple[SampleWorkload, ...] = get_args(SampleWorkload)


@dataclasses.dataclass(frozen=True)
class WorkloadSettings:
    """Kubernetes workloads of the stack.

    Attributes:
        namespace: namespace of the device plugin and the sample job.
        device_plugin_image: image of the NVIDIA device plugin DaemonSet.
        sample_job: whether a sample GPU workload runs.
        sample_workload: `acceptance` (every GPU of every node at the pool's floor measured
            against healthy references and Azure's floors) or `mnist` (the walkthrough's TensorFlow job on one GPU).
        sample_job_image: image of the MNIST job.
        sample_job_args: arguments of the MNIST job's container.
        acceptance_image: CUDA PyTorch image the acceptance test runs in.
        acceptance_min_fraction: share of the datasheet's matmul and memory rates a GPU must reach (0-1]
            where its model has no measured reference.
        acceptance_references: the stack's own healthy figures, check name -> TFLOP/s or GB/s per device.
    """

    namespace: str
    device_plugin_image: str
    sample_job: bool
    sample_workload: SampleWorkload
    sample_job_image: str
    sample_job_args: tuple[str, ...]
    acceptance_image: str
    acceptance_min_fraction: float
    acceptance_references: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def runs_acceptance(self) -> bool:
        """Whether the GPU acceptance test runs."""
        return self.sample_job and self.sample_workload == ACCEPTANCE

    @property
    def runs_mnist(self) -> bool:
        """Whether the walkthrough's MNIST job runs."""
        return self.sample_job and self.sample_workload == MNIST


def read_workloads(r: ConfigReader) -> WorkloadSettings:
    """Validate the workloads' keys, recording every problem in `r`."""
    return WorkloadSettings(
        namespace=_namespace(r),
        device_plugin_image=_device_plugin_image(r),
        sample_job=r.boolean("sampleJob"),
        sample_workload=r.choice("sampleWorkload", SAMPLE_WORKLOADS),
        sample_job_image=_image(r, "sampleJobImage"),
        sample_job_args=_args(r),
        acceptance_image=_image(r, "acceptanceImage"),
        acceptance_min_fraction=_fraction(r, "acceptanceMinFraction"),
        acceptance_references=_references(r, "acceptanceReferences"),
    )


def _fraction(r: ConfigReader, key: str) -> float:
    value = r.number(key)
    if key not in r.refused and not 0 < value <= 1:
        r.fail(key, r.values[key], "a number above 0 and at most 1 (a share of the datasheet figures)")
    return value


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


def _device_plugin_image(r: ConfigReader) -> str:
    image = _image(r, "devicePluginImage")
    # The DaemonSet mounts the kubelet's device-plugin socket directory, which only the
    # NVIDIA device plugin from its publishers' registries may reach (the policy pack refuses
    # the mount for any other image, a mirror of the same name included).
    if image and "devicePluginImage" not in r.refused and not is_device_plugin_image(image):
        r.fail(
            "devicePluginImage",
            image,
            "the NVIDIA device plugin from " + " or ".join(TRUSTED_REPOSITORIES) + " (any tag or digest); "
            "other registries and mirrors are refused because the plugin mounts the kubelet's device-plugin socket",
        )
    return image


def _args(r: ConfigReader) -> tuple[str, ...]:
    # Arguments may hold tabs and newlines (exec passes them on); other control
    # characters are refused. The reader's bound on every value (MAX_VALUE_CHARS)
    # keeps them far below Linux's exec limits and the API server's object size.
    return r.string_list("sampleJobArgs", control_allowed="\t\n")


def _references(r: ConfigReader, key: str) -> dict[str, float]:
    """check=value strings as {check: value}; each check once, each value a positive finite number."""
    allowed = f"check=value with check one of {', '.join(CHECK_NAMES)} and value a positive number, each check once"
    found: dict[str, float] = {}
    for item in r.string_list(key):
        name, _, text = item.partition("=")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if name.strip() not in CHECK_NAMES or name.strip() in found or not 0 < value < 1e7:
            r.fail(key, item, allowed)
            continue
        found[name.strip()] = value
    return found
