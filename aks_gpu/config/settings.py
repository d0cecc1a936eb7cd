"""The stack's settings: read from Pulumi config once, validated once, split by concern.

`parse_settings` is pure (no Pulumi engine needed), so every rule can be tested
directly; it reports every bad value at once, before any resource exists.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from datetime import date
from typing import Any

import pulumi

from aks_gpu.config import validate
from aks_gpu.config.access import AccessSettings, read_access
from aks_gpu.config.cluster import SYSTEM_POOL_NAME, ClusterSettings, read_cluster
from aks_gpu.config.gpu_pool import GpuPoolSettings, read_gpu_pool
from aks_gpu.config.project import PROJECT, ConfigReader, SettingsError, declared_keys, with_defaults
from aks_gpu.config.verification import VerificationSettings, read_verification
from aks_gpu.config.workloads import ACCEPTANCE, WorkloadSettings, read_workloads
from aks_gpu.facts.vm_sizes import find_gpu_vm_size


@dataclasses.dataclass(frozen=True)
class Settings:
    """All settings of one stack; each component takes only the part it reads."""

    cluster: ClusterSettings
    gpu_pool: GpuPoolSettings
    workloads: WorkloadSettings
    verification: VerificationSettings
    access: AccessSettings
    # Check quota and VM size availability in Azure before anything is created.
    preflight: bool

    @property
    def verification_expected_gpus(self) -> int:
        """GPUs the verification waits for.

        A pool autoscaled from zero has no node until a pod asks for a GPU. Then
        the sample job is that pod: verification runs beside it (not before it, which
        would deadlock) and waits for the one node it brings. Without a sample job,
        nothing scales the pool up and verification only records what is there.
        """
        pool = self.gpu_pool
        if pool.scales_from_zero:
            return pool.devices_per_node if self.workloads.sample_job else 0
        return pool.expected_gpus


def read_settings(today: date | None = None) -> Settings:
    """Read every declared key from the stack's config and validate it (raises SettingsError)."""
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {key: config.get(key) for key in declared_keys()}
    # pulumi.Config only answers for keys asked by name; the engine's whole config bag
    # (PULUMI_CONFIG, loaded into runtime.config.CONFIG) also holds keys no one declared,
    # which must be refused rather than silently ignored.
    prefix = PROJECT + ":"
    for full_key, value in pulumi.runtime.config.CONFIG.get().items():
        if full_key.startswith(prefix) and full_key[len(prefix) :] not in raw:
            raw[full_key[len(prefix) :]] = value
    location = pulumi.Config("azure-native").get("location")
    return parse_settings(raw, location=location, today=today or date.today())


def parse_settings(
    raw: Mapping[str, Any],
    *,
    location: str | None,
    today: date,
    declared: Mapping[str, dict[str, Any]] | None = None,
) -> Settings:
    """Validate raw config values (keys without namespace); raise SettingsError naming every bad key."""
    declared = declared if declared is not None else declared_keys()
    problems: list[str] = [unknown_key(key, declared) for key in sorted(set(raw) - set(declared))]
    r = ConfigReader(with_defaults(raw, declared), problems)
    _refuse_empty(r, raw, declared)
    cluster = read_cluster(r, location)
    settings = Settings(
        cluster=cluster,
        gpu_pool=read_gpu_pool(r, cluster.location, today),
        workloads=read_workloads(r),
        verification=read_verification(r),
        access=read_access(r, cluster),
        preflight=r.boolean("preflight"),
    )
    _check_acceptance(r, settings)
    _check_managed_gpu_version(r, settings)
    if settings.gpu_pool.name == SYSTEM_POOL_NAME and cluster.existing is None:
        r.fail("gpuPoolName", SYSTEM_POOL_NAME, f"a name other than '{SYSTEM_POOL_NAME}', which the system pool uses")
    if problems:
        raise SettingsError(problems)
    return settings


def _refuse_empty(r: ConfigReader, raw: Mapping[str, Any], declared: Mapping[str, dict[str, Any]]) -> None:
    # One rule for every string key: where Pulumi.yaml declares a non-empty default, an
    # empty value is refused (it would name a resource "" mid-deploy); leaving the key
    # unset is how to get the default. The default stands in so later checks go on.
    for key, spec in declared.items():
        value, default = raw.get(key), spec.get("default")
        if spec.get("type") == "string" and isinstance(value, str) and not value.strip() and default:
            r.fail(key, value, f"a non-empty value; leave {PROJECT}:{key} unset for the default {default!r}")
            r.values = {**r.values, key: default}


def unknown_key(key: str, declared: Mapping[str, Any]) -> str:
    """The problem line for an undeclared key, naming the nearest declared key (case-insensitive)."""
    by_lower = {name.lower(): name for name in declared}
    near = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    hint = f"did you mean `{by_lower[near[0]]}`?" if near else f"known keys: {', '.join(sorted(declared))}"
    return f"{PROJECT}:{key} is not a setting of this program (Pulumi.yaml does not declare it); {hint}"


def _check_managed_gpu_version(r: ConfigReader, settings: Settings) -> None:
    # A new cluster's version is known here; an existing cluster's once it is read (GpuCluster).
    version = settings.cluster.kubernetes_version
    problem = validate.managed_gpu_version_problem(version) if version and settings.gpu_pool.managed_gpu else None
    if problem:
        r.fail("kubernetesVersion", version, problem)


def _check_acceptance(r: ConfigReader, settings: Settings) -> None:
    # The acceptance test judges each GPU against the catalog's datasheet figures.
    size = find_gpu_vm_size(settings.gpu_pool.vm_size)
    if settings.workloads.runs_acceptance and (size is None or size.gpu is None):
        r.fail(
            "sampleWorkload",
            ACCEPTANCE,
            f"mnist, or sampleJob: false, for {settings.gpu_pool.vm_size}: the acceptance test needs the "
            "catalog's datasheet figures for its GPU, and the catalog does not know this size",
        )
