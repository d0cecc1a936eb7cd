"""Stack settings: read from Pulumi config once, validated once, passed on as plain values.

`Pulumi.yaml` is the single declaration of every key, its type and its default;
this module reads that declaration, so a default is never written twice.
`parse_settings` is pure (no Pulumi engine needed), so every rule can be tested
directly; it reports every bad value at once, before any resource exists.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.errors import RunError

from components import catalog

PROJECT = "aks-gpu"
PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"

DEVICE_PLUGIN_STACK = "device-plugin"
MANAGED_STACK = "managed"
# The seed's dedicated GPU image: still recognised so users get told what replaced it.
DEDICATED_IMAGE_STACK = "dedicated-image"

SYSTEM_POOL_NAME = "system"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_RESOURCE_GROUP_NAME = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9](?:[-_A-Za-z0-9]{0,61}[A-Za-z0-9])?$")
_LINUX_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_KUBERNETES_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME = r"[A-Za-z0-9](?:[-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^(?:{_LABEL_NAME})?$")
_IMAGE = re.compile(r"^[^\s]+$")


class SettingsError(RunError, ValueError):
    """Every problem found in the stack's config, one line each.

    A RunError, so Pulumi prints the message alone rather than a stack trace."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "The stack configuration has "
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing was created:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclasses.dataclass(frozen=True)
class Autoscale:
    min_count: int
    max_count: int


@dataclasses.dataclass(frozen=True)
class ExistingCluster:
    name: str
    resource_group_name: str


@dataclasses.dataclass(frozen=True)
class Settings:
    location: str | None
    resource_group_name: str | None
    cluster_name: str | None
    kubernetes_version: str | None
    system_vm_size: str
    system_node_count: int
    gpu_pool_name: str
    gpu_vm_size: str
    gpus_per_node: int
    gpu_node_count: int
    autoscale: Autoscale | None
    spot: bool
    spot_max_price: float
    gen2: bool
    gpu_stack: str
    register_preview_features: bool
    mig_profile: str | None
    gpu_node_taints: tuple[str, ...]
    gpu_node_labels: Mapping[str, str]
    existing_cluster: ExistingCluster | None
    namespace: str
    device_plugin_image: str
    sample_job: bool
    sample_job_image: str
    sample_job_args: tuple[str, ...]
    verify_gpus: bool
    verify_timeout_seconds: int

    @property
    def managed_gpu(self) -> bool:
        return self.gpu_stack == MANAGED_STACK

    @property
    def installs_device_plugin(self) -> bool:
        # AKS-managed GPU pools ship their own plugin; a second one would fight it.
        return not self.managed_gpu

    @property
    def pool_taints(self) -> tuple[str, ...]:
        """Taints the GPU nodes will carry, including the one AKS adds to Spot pools."""
        extra = (catalog.SPOT_TAINT,) if self.spot and catalog.SPOT_TAINT not in self.gpu_node_taints else ()
        return self.gpu_node_taints + extra

    @property
    def scales_from_zero(self) -> bool:
        return self.autoscale is not None and self.autoscale.min_count == 0

    @property
    def verification_expected_gpus(self) -> int:
        """GPUs the verification waits for.

        A pool autoscaled from zero has no node until a pod asks for a GPU. Then
        the sample job is that pod: verification runs beside it (not before it, which
        would deadlock) and waits for the one node it brings. Without a sample job,
        nothing scales the pool up and verification only records what is there.
        """
        if self.scales_from_zero:
            return self.gpus_per_node if self.sample_job else 0
        return self.expected_gpus

    @property
    def expected_gpus(self) -> int:
        """`nvidia.com/gpu` the pool should advertise when it is at its floor."""
        nodes = self.autoscale.min_count if self.autoscale else self.gpu_node_count
        return nodes * self.gpus_per_node


# --- Reading the project declaration and the stack's values ---------------------


def declared_keys(project_file: Path = PROJECT_FILE) -> dict[str, dict[str, Any]]:
    """The project's config declarations from Pulumi.yaml, keyed without namespace."""
    project = yaml.safe_load(project_file.read_text())
    return {
        key.split(":", 1)[-1]: spec
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict) and ":" not in key
    }


def read_settings(today: date | None = None) -> Settings:
    """Read every declared key from the stack's config and validate it."""
    config = pulumi.Config(PROJECT)
    raw = {key: config.get(key) for key in declared_keys()}
    location = pulumi.Config("azure-native").get("location")
    return parse_settings(raw, location=location, today=today or date.today())


def _with_defaults(raw: Mapping[str, Any], declared: Mapping[str, dict]) -> dict[str, Any]:
    values = {}
    for key, spec in declared.items():
        value = raw.get(key)
        values[key] = spec.get("default") if value is None else value
    return values


class _Reader:
    """Converts raw config values (strings from the engine, or native values) to types,
    recording a problem instead of raising so all problems are reported together."""

    def __init__(self, values: Mapping[str, Any], problems: list[str]):
        self.values = values
        self.problems = problems

    def fail(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{PROJECT}:{key} = {json.dumps(value)} is not allowed: {allowed}")

    def string(self, key: str) -> str:
        value = self.values[key]
        return "" if value is None else str(value).strip()

    def optional(self, key: str) -> str | None:
        return self.string(key) or None

    def integer(self, key: str, low: int, high: int, what: str = "") -> int:
        value = self.values[key]
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            self.fail(key, value, what or f"a whole number from {low} to {high}")
            return low
        return number

    def number(self, key: str) -> float:
        value = self.values[key]
        try:
            return float(str(value).strip())
        except ValueError:
            self.fail(key, value, "a number")
            return -1.0

    def boolean(self, key: str) -> bool:
        value = self.values[key]
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        self.fail(key, value, "true or false")
        return False

    def string_list(self, key: str) -> tuple[str, ...]:
        value = original = self.values[key]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                self.fail(key, value, 'a list of strings, e.g. ["a", "b"]')
                return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, original, "a list of strings")
            return ()
        return tuple(value)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.string(key)
        if value not in allowed:
            self.fail(key, value, "one of " + ", ".join(allowed))
            return allowed[0]
        return value

    def matching(self, key: str, pattern: re.Pattern, allowed: str) -> str | None:
        value = self.optional(key)
        if value is not None and not pattern.match(value):
            self.fail(key, value, allowed)
        return value


# --- Validation ----------------------------------------------------------------


def parse_settings(
    raw: Mapping[str, Any],
    *,
    location: str | None,
    today: date,
    declared: Mapping[str, dict] | None = None,
) -> Settings:
    """Validate raw config values; raise SettingsError naming every bad key."""
    declared = declared if declared is not None else declared_keys()
    unknown = sorted(set(raw) - set(declared))
    problems: list[str] = [
        f"{PROJECT}:{key} is not a setting of this program; known keys: {', '.join(sorted(declared))}"
        for key in unknown
    ]
    r = _Reader(_with_defaults(raw, declared), problems)

    existing = _existing_cluster(r)
    location = (location or "").strip() or None
    if location is None and existing is None:
        problems.append(
            "azure-native:location is not set: a new cluster needs a region "
            "(pulumi config set azure-native:location eastus)"
        )

    gpu_stack = _gpu_stack(r)
    vm_size, size = _gpu_vm_size(r, location, today)
    gpus_per_node = _gpus_per_node(r, vm_size, size)
    autoscale = _autoscale(r, gpu_stack)
    spot = r.boolean("gpuSpot")
    spot_max_price = _spot_max_price(r, spot)
    gen2 = r.boolean("gpuGen2")
    if gen2 and size is not None and not size.gen2:
        r.fail("gpuGen2", True, f"{size.name} supports only Generation 1 images; choose a Gen2-capable size")
    register_preview = r.boolean("registerPreviewFeatures")
    if register_preview and gpu_stack != MANAGED_STACK:
        r.fail(
            "registerPreviewFeatures",
            True,
            f"it registers the {catalog.MANAGED_GPU_FEATURE} feature, which only gpuStack: managed needs",
        )
    taints = _taints(r)
    pool_name = r.matching(
        "gpuPoolName",
        _LINUX_POOL_NAME,
        "1-12 lowercase letters and digits, starting with a letter (AKS Linux pool names)",
    )
    if pool_name == SYSTEM_POOL_NAME and existing is None:
        r.fail("gpuPoolName", pool_name, f"a name other than '{SYSTEM_POOL_NAME}', which the system pool uses")

    settings = Settings(
        location=location,
        resource_group_name=r.matching(
            "resourceGroupName",
            _RESOURCE_GROUP_NAME,
            "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
        ),
        cluster_name=r.matching(
            "clusterName",
            _CLUSTER_NAME,
            "1-63 letters, digits, '-' or '_', starting and ending with a letter or digit",
        ),
        kubernetes_version=r.matching(
            "kubernetesVersion", _KUBERNETES_VERSION, "empty (AKS default) or MAJOR.MINOR[.PATCH], e.g. 1.33"
        ),
        system_vm_size=r.matching("systemVmSize", _VM_SIZE, "an Azure VM size such as Standard_D4ds_v5")
        or catalog.DEFAULT_SYSTEM_VM_SIZE,
        system_node_count=r.integer("systemNodeCount", 1, 1000),
        gpu_pool_name=pool_name or "gpu",
        gpu_vm_size=vm_size,
        gpus_per_node=gpus_per_node,
        gpu_node_count=r.integer("gpuNodeCount", 1, 1000),
        autoscale=autoscale,
        spot=spot,
        spot_max_price=spot_max_price,
        gen2=gen2,
        gpu_stack=gpu_stack,
        register_preview_features=register_preview,
        mig_profile=_mig_profile(r, size),
        gpu_node_taints=taints,
        gpu_node_labels=_labels(r),
        existing_cluster=existing,
        namespace=r.matching("gpuNamespace", _DNS_LABEL, "a Kubernetes namespace name (DNS label)") or "gpu-resources",
        device_plugin_image=r.matching("devicePluginImage", _IMAGE, "a container image reference")
        or catalog.DEVICE_PLUGIN_IMAGE,
        sample_job=r.boolean("sampleJob"),
        sample_job_image=r.matching("sampleJobImage", _IMAGE, "a container image reference")
        or catalog.SAMPLE_JOB_IMAGE,
        sample_job_args=r.string_list("sampleJobArgs"),
        verify_gpus=r.boolean("verifyGpus"),
        verify_timeout_seconds=r.integer("verifyTimeoutSeconds", 60, 7200),
    )
    if existing and (settings.resource_group_name or settings.cluster_name):
        problems.append(
            f"{PROJECT}:existingClusterName is set together with resourceGroupName/clusterName: "
            "use existingClusterName and existingClusterResourceGroup to join a cluster, "
            "or resourceGroupName and clusterName to create one, not both"
        )
    if problems:
        raise SettingsError(problems)
    return settings


def _existing_cluster(r: _Reader) -> ExistingCluster | None:
    name = r.matching("existingClusterName", _CLUSTER_NAME, "an AKS cluster name")
    group = r.matching("existingClusterResourceGroup", _RESOURCE_GROUP_NAME, "a resource group name")
    if bool(name) != bool(group):
        missing = "existingClusterResourceGroup" if name else "existingClusterName"
        r.problems.append(
            f"{PROJECT}:{missing} is empty: existingClusterName and existingClusterResourceGroup "
            "are set together to add the GPU pool to an existing cluster"
        )
        return None
    return ExistingCluster(name, group) if name else None


def _gpu_stack(r: _Reader) -> str:
    value = r.string("gpuStack")
    if value == DEDICATED_IMAGE_STACK:
        r.fail(
            "gpuStack",
            value,
            "the AKS dedicated GPU image (UseGPUDedicatedVHD) was retired on "
            f"{catalog.DEDICATED_GPU_IMAGE_RETIRED_ON.isoformat()}; its successor is "
            f"gpuStack: {MANAGED_STACK} (AKS-managed driver, device plugin and DCGM exporter)",
        )
        return DEVICE_PLUGIN_STACK
    return r.choice("gpuStack", (DEVICE_PLUGIN_STACK, MANAGED_STACK))


def _gpu_vm_size(r: _Reader, location: str | None, today: date) -> tuple[str, catalog.GpuVmSize | None]:
    value = r.string("gpuVmSize")
    size = catalog.find_gpu_vm_size(value)
    if size is not None:
        retired = size.retirement_date(location)
        if size.is_retired(today, location):
            r.fail(
                "gpuVmSize",
                value,
                f"{size.name} ({size.gpu_model}) was retired on {retired.isoformat()}"
                f"{' in ' + location if location else ''}; its successor is {size.successor}",
            )
        return size.name, size
    reason = catalog.unsupported_reason(value)
    if reason:
        r.fail("gpuVmSize", value, f"AKS GPU pools cannot use it: {reason}")
    elif not _VM_SIZE.match(value) or not value.lower().startswith("standard_n"):
        r.fail("gpuVmSize", value, "an N-series GPU VM size such as " + catalog.DEFAULT_GPU_VM_SIZE)
    return value, None


def _gpus_per_node(r: _Reader, vm_size: str, size: catalog.GpuVmSize | None) -> int:
    given = r.integer("gpusPerNode", 0, 16, "0 (take it from the catalog) or a whole number from 1 to 16")
    if size is None:
        if given == 0:
            r.fail(
                "gpusPerNode",
                0,
                f"the catalog does not know {vm_size}; set gpusPerNode to the nvidia.com/gpu "
                "count one node of that size advertises",
            )
        return given
    if given not in (0, size.gpus_per_node):
        r.fail("gpusPerNode", given, f"0 or {size.gpus_per_node}: {size.name} has {size.gpus_per_node} GPU(s) per node")
    return size.gpus_per_node


def _autoscale(r: _Reader, gpu_stack: str) -> Autoscale | None:
    min_count = r.integer("gpuMinCount", 0, 1000)
    max_count = r.integer("gpuMaxCount", 0, 1000, "0 (autoscaler off) or a whole number from 1 to 1000")
    if max_count == 0:
        if min_count:
            r.fail("gpuMinCount", min_count, "0 unless gpuMaxCount is set too (both turn the autoscaler on)")
        return None
    if min_count > max_count:
        r.fail("gpuMinCount", min_count, f"at most gpuMaxCount ({max_count})")
    if gpu_stack == MANAGED_STACK:
        r.fail(
            "gpuMaxCount",
            max_count,
            "0 with gpuStack: managed: AKS-managed GPU pools do not support the cluster autoscaler while in preview",
        )
    return Autoscale(min_count, max_count)


def _spot_max_price(r: _Reader, spot: bool) -> float:
    price = r.number("gpuSpotMaxPrice")
    if price != -1 and price <= 0:
        r.fail("gpuSpotMaxPrice", price, "-1 (pay up to the on-demand price) or a price above 0 in US dollars per hour")
    elif price != -1 and not spot:
        r.fail("gpuSpotMaxPrice", price, "-1 unless gpuSpot is true")
    return price


def _mig_profile(r: _Reader, size: catalog.GpuVmSize | None) -> str | None:
    profile = r.optional("gpuMigProfile")
    if profile is None:
        return None
    if profile not in catalog.MIG_PROFILES:
        r.fail("gpuMigProfile", profile, "empty or one of " + ", ".join(catalog.MIG_PROFILES))
    elif size is None or not size.mig_capable:
        capable = sorted(s.name for s in catalog.GPU_VM_SIZES.values() if s.mig_capable)
        r.fail("gpuMigProfile", profile, "empty unless gpuVmSize is MIG-capable: " + ", ".join(capable))
    return profile


def _taints(r: _Reader) -> tuple[str, ...]:
    taints = r.string_list("gpuNodeTaints")
    for taint in taints:
        key_value, _, effect = taint.rpartition(":")
        key, _, value = key_value.partition("=")
        if not key_value or effect not in TAINT_EFFECTS or not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            r.fail(
                "gpuNodeTaints",
                taint,
                "each taint as key=value:Effect or key:Effect, Effect one of " + ", ".join(TAINT_EFFECTS),
            )
    return tuple(dict.fromkeys(taints))


def _labels(r: _Reader) -> dict[str, str]:
    labels = {}
    for item in r.string_list("gpuNodeLabels"):
        key, sep, value = item.partition("=")
        if not sep or not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            r.fail("gpuNodeLabels", item, "each label as key=value with Kubernetes label syntax")
        elif key.startswith("kubernetes.azure.com/"):
            r.fail("gpuNodeLabels", item, "a key outside kubernetes.azure.com/, which AKS reserves")
        else:
            labels[key] = value
    return labels
