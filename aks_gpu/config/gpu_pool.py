"""Settings of the GPU agent pool: size, count, Spot, GPU stack, MIG, taints and labels."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date
from typing import Literal

from aks_gpu.config import validate
from aks_gpu.config.cluster import VM_SIZE
from aks_gpu.config.project import ConfigReader
from aks_gpu.facts import azure, vm_sizes
from aks_gpu.facts.device_plugin import MIG_STRATEGIES, MigStrategy
from aks_gpu.facts.gpu_models import MigProfile, find_gpu_model
from aks_gpu.facts.kubernetes import (
    GPU_RESOURCE,
    SPOT_TAINT,
    Taint,
    is_label_key,
    is_label_value,
    reserved_node_label_reason,
    reserved_taint_reason,
)

# Who installs the GPU driver and device plugin: this program (the seed's way) or AKS.
GpuStack = Literal["device-plugin", "managed"]
DEVICE_PLUGIN_STACK: GpuStack = "device-plugin"
MANAGED_STACK: GpuStack = "managed"
# The seed's dedicated GPU image: still recognised so users get told what replaced it.
DEDICATED_IMAGE_STACK = "dedicated-image"

_LINUX_POOL_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")

# The NVIDIA device plugin's MIG strategies this program offers. `none` (the plugin's
# default) advertises whole GPUs that no pod can use once MIG is on, so it is not one.
MIG_SINGLE, MIG_MIXED = MIG_STRATEGIES


@dataclasses.dataclass(frozen=True)
class Autoscale:
    """Cluster autoscaler bounds of the GPU pool (nodes); min_count may be 0 (scale from zero)."""

    min_count: int
    max_count: int


@dataclasses.dataclass(frozen=True)
class GpuPoolSettings:
    """The GPU agent pool.

    Attributes:
        name: agent pool name (1-12 lowercase letters and digits).
        vm_size: the VM size, as the catalog spells it when it knows the size.
        gpus_per_node: `nvidia.com/gpu` one node advertises (catalog, or gpusPerNode).
        node_count: fixed node count when the autoscaler is off.
        autoscale: autoscaler bounds, or None for a fixed count.
        spot: whether the pool runs on Spot VMs.
        spot_max_price: Spot price cap in US dollars per hour; -1 pays up to on-demand.
        gen2: whether the user asked for a Generation 2 image (AKS picks it anyway where it can).
        gpu_stack: `device-plugin` or `managed`.
        register_preview_features: whether the stack registers the managed GPU feature.
        mig_profile: AKS MIG profile (MIG1g ... MIG7g), or None.
        mig_strategy: the device plugin's MIG strategy (`single` or `mixed`) with a profile, else None.
        taints: the pool's own taints (AKS adds the Spot taint by itself).
        labels: extra node labels.
    """

    name: str
    vm_size: str
    gpus_per_node: int
    node_count: int
    autoscale: Autoscale | None
    spot: bool
    spot_max_price: float
    gen2: bool
    gpu_stack: GpuStack
    register_preview_features: bool
    mig_profile: str | None
    mig_strategy: MigStrategy | None
    taints: tuple[Taint, ...]
    labels: Mapping[str, str]

    @property
    def managed_gpu(self) -> bool:
        """AKS installs and runs the driver, device plugin and DCGM exporter."""
        return self.gpu_stack == MANAGED_STACK

    @property
    def installs_device_plugin(self) -> bool:
        """Whether this program installs the device plugin (a second one would fight AKS's)."""
        return not self.managed_gpu

    @property
    def node_taints(self) -> tuple[Taint, ...]:
        """Taints the GPU nodes will carry, including the one AKS adds to Spot pools."""
        extra = (SPOT_TAINT,) if self.spot and SPOT_TAINT not in self.taints else ()
        return self.taints + extra

    @property
    def scales_from_zero(self) -> bool:
        """The autoscaler may keep the pool at 0 nodes until a pod asks for a GPU."""
        return self.autoscale is not None and self.autoscale.min_count == 0

    @property
    def floor_nodes(self) -> int:
        """Nodes the pool has at its floor: the fixed count or the autoscaler minimum."""
        return self.autoscale.min_count if self.autoscale else self.node_count

    @property
    def mig(self) -> MigProfile | None:
        """The MIG profile on this size's GPU model (instances per GPU, slice name), or None."""
        size = vm_sizes.find_gpu_vm_size(self.vm_size)
        model = find_gpu_model(size.gpu_model) if size else None
        return model.mig_profiles.get(self.mig_profile) if model and self.mig_profile else None

    @property
    def gpu_resource(self) -> str:
        """The extended resource a node advertises per usable device: nvidia.com/gpu, or
        nvidia.com/mig-<slice> with the mixed MIG strategy."""
        mig = self.mig
        return mig.resource if mig and self.mig_strategy == MIG_MIXED else GPU_RESOURCE

    @property
    def devices_per_node(self) -> int:
        """Units of `gpu_resource` one node advertises: its GPUs, times the MIG instances per GPU."""
        mig = self.mig
        return self.gpus_per_node * (mig.instances_per_gpu if mig else 1)

    @property
    def expected_gpus(self) -> int:
        """Units of `gpu_resource` the pool should advertise at its floor."""
        return self.floor_nodes * self.devices_per_node


def read_gpu_pool(r: ConfigReader, location: str | None, today: date) -> GpuPoolSettings:
    """Validate the GPU pool's keys, recording every problem in `r`."""
    gpu_stack = _gpu_stack(r)
    vm_size, size = _gpu_vm_size(r, location, today)
    spot = r.boolean("gpuSpot")
    gen2 = r.boolean("gpuGen2")
    if gen2 and size is not None and not size.gen2:
        r.fail("gpuGen2", True, f"{size.name} supports only Generation 1 images; choose a Gen2-capable size")
    mig_profile = _mig_profile(r, size)
    register_preview = r.boolean("registerPreviewFeatures")
    if register_preview and gpu_stack != MANAGED_STACK:
        r.fail(
            "registerPreviewFeatures",
            True,
            f"it registers the {azure.MANAGED_GPU_FEATURE} feature, which only gpuStack: managed needs",
        )
    return GpuPoolSettings(
        name=r.matching(
            "gpuPoolName",
            _LINUX_POOL_NAME,
            "1-12 lowercase letters and digits, starting with a letter (AKS Linux pool names)",
        )
        or "",
        vm_size=vm_size,
        gpus_per_node=_gpus_per_node(r, vm_size, size),
        node_count=r.integer("gpuNodeCount", 1, 1000),
        autoscale=_autoscale(r, mig_profile),
        spot=spot,
        spot_max_price=_spot_max_price(r, spot),
        gen2=gen2,
        gpu_stack=gpu_stack,
        register_preview_features=register_preview,
        mig_profile=mig_profile,
        mig_strategy=_mig_strategy(r, mig_profile),
        taints=_taints(r),
        labels=_labels(r),
    )


def _gpu_stack(r: ConfigReader) -> GpuStack:
    value = r.string("gpuStack")
    if value == DEDICATED_IMAGE_STACK:
        r.fail(
            "gpuStack",
            value,
            "the AKS dedicated GPU image (UseGPUDedicatedVHD) was retired on "
            f"{azure.DEDICATED_GPU_IMAGE_RETIRED_ON.isoformat()}; its successor is "
            f"gpuStack: {MANAGED_STACK} (AKS-managed driver, device plugin and DCGM exporter)",
        )
        return DEVICE_PLUGIN_STACK
    return r.choice("gpuStack", (DEVICE_PLUGIN_STACK, MANAGED_STACK))


def _gpu_vm_size(r: ConfigReader, location: str | None, today: date) -> tuple[str, vm_sizes.GpuVmSize | None]:
    value = r.string("gpuVmSize")
    size = vm_sizes.find_gpu_vm_size(value)
    if size is not None:
        retired = size.retirement_date(location)
        if retired is not None and size.is_retired(today, location):
            r.fail(
                "gpuVmSize",
                value,
                f"{size.name} ({size.gpu_model}) was retired on {retired.isoformat()}"
                f"{' in ' + location if location else ''}; its successor is {size.successor}",
            )
        return size.name, size
    reason = vm_sizes.unsupported_reason(value)
    if reason:
        r.fail("gpuVmSize", value, f"AKS GPU pools cannot use it: {reason}")
    elif not VM_SIZE.fullmatch(value) or not value.lower().startswith("standard_n"):
        r.fail("gpuVmSize", value, "an N-series GPU VM size such as " + vm_sizes.EXAMPLE_GPU_VM_SIZE)
    return value, None


def _gpus_per_node(r: ConfigReader, vm_size: str, size: vm_sizes.GpuVmSize | None) -> int:
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


def _autoscale(r: ConfigReader, mig_profile: str | None) -> Autoscale | None:
    min_count = r.integer("gpuMinCount", 0, 1000)
    max_count = r.integer("gpuMaxCount", 0, 1000, "0 (autoscaler off) or a whole number from 1 to 1000")
    if max_count == 0:
        if min_count:
            r.fail("gpuMinCount", min_count, "0 unless gpuMaxCount is set too (both turn the autoscaler on)")
        return None
    if min_count > max_count:
        r.fail("gpuMinCount", min_count, f"at most gpuMaxCount ({max_count})")
    # AKS-managed GPU pools take the autoscaler: aks-managed-gpu-nodes.md (ms.date 2025-10-30)
    # creates its example managed pool with --enable-cluster-autoscaler --min-count 1 --max-count 3,
    # and the agent pool API's enableAutoScaling has no exception for them.
    if mig_profile is not None:
        # gpu-multi-instance.md, Limitations: "You can't use Cluster Autoscaler with multi-instance
        # node pools". From zero it cannot work either: the autoscaler's template node offers the
        # size's whole GPUs and no MIG slices, so a pod asking for slices never scales up (Azure/AKS#4216).
        r.fail(
            "gpuMaxCount",
            max_count,
            f"0 with gpuMigProfile {mig_profile}: AKS does not run the cluster autoscaler on multi-instance GPU "
            "pools, and from zero its template node offers no MIG slices; set gpuNodeCount to a fixed count instead",
        )
    return Autoscale(min_count, max_count)


def _spot_max_price(r: ConfigReader, spot: bool) -> float:
    price = r.number("gpuSpotMaxPrice", max_decimals=validate.SPOT_PRICE_DECIMALS)
    if price != -1 and price <= 0:
        r.fail("gpuSpotMaxPrice", price, "-1 (pay up to the on-demand price) or a price above 0 in US dollars per hour")
    elif price != -1 and not spot:
        r.fail("gpuSpotMaxPrice", price, "-1 unless gpuSpot is true")
    return price


def _mig_profile(r: ConfigReader, size: vm_sizes.GpuVmSize | None) -> str | None:
    profile = r.optional("gpuMigProfile")
    if profile is None:
        return None
    if profile not in azure.MIG_PROFILES:
        r.fail("gpuMigProfile", profile, "empty or one of " + ", ".join(azure.MIG_PROFILES))
    elif size is None or not size.mig_capable:
        capable = sorted(s.name for s in vm_sizes.GPU_VM_SIZES.values() if s.mig_capable)
        r.fail("gpuMigProfile", profile, "empty unless gpuVmSize is MIG-capable: " + ", ".join(capable))
    return profile


def _mig_strategy(r: ConfigReader, profile: str | None) -> MigStrategy | None:
    strategy = r.optional("gpuMigStrategy")
    if profile is None:
        if strategy is not None:
            r.fail("gpuMigStrategy", strategy, "empty unless gpuMigProfile is set (the strategy applies to MIG pools)")
        return None
    if strategy is None:
        return MIG_SINGLE
    for known in MIG_STRATEGIES:
        if strategy == known:
            return known
    r.fail("gpuMigStrategy", strategy, "empty (single) or one of " + ", ".join(MIG_STRATEGIES))
    return MIG_SINGLE


def _taints(r: ConfigReader) -> tuple[Taint, ...]:
    taints: list[Taint] = []
    for text in r.string_list("gpuNodeTaints"):
        try:
            taint = Taint.parse(text)
        except ValueError as error:
            r.fail("gpuNodeTaints", text, f"each taint as key=value:Effect or key:Effect ({error})")
            continue
        reserved = reserved_taint_reason(taint.key)
        clash = next((t for t in taints if (t.key, t.effect) == (taint.key, taint.effect)), None)
        if reserved:
            r.fail("gpuNodeTaints", text, f"a taint key of your own: {reserved}")
        elif clash == taint:
            continue
        elif clash:
            r.fail(
                "gpuNodeTaints",
                text,
                f"one taint per key and effect (Kubernetes refuses the node otherwise); {clash} is already listed",
            )
        else:
            taints.append(taint)
    return tuple(taints)


def _labels(r: ConfigReader) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in r.string_list("gpuNodeLabels"):
        key, sep, value = item.partition("=")
        if not sep or not is_label_key(key) or not is_label_value(value):
            r.fail("gpuNodeLabels", item, "each label as key=value with Kubernetes label syntax")
        elif reserved_node_label_reason(key):
            r.fail("gpuNodeLabels", item, f"a label key of your own: {reserved_node_label_reason(key)}")
        elif labels.get(key, value) != value:
            r.fail("gpuNodeLabels", item, f"one value per key; {key}={labels[key]} is already listed")
        else:
            labels[key] = value
    return labels
