"""Pure checks of config text that Azure or Kubernetes would refuse later, shared by the settings modules.

Each function returns None when the value is fine, or a sentence saying what is
wrong; the settings modules turn that into `ConfigReader.fail(key, value, ...)`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from docker_image.reference import InvalidReference, Reference  # type: ignore[import-untyped]

from aks_gpu.facts import kubernetes, names
from aks_gpu.facts.azure import MANAGED_GPU_MIN_KUBERNETES

# The engine hands every value over as text; none of this program's values is
# near this long. Bounding it keeps the JSON parser and the regexes cheap, and
# keeps what flows into objects (the sample job's args) far below Linux's exec
# limit for one argument (128 KiB) and the API server's object size (1.5 MiB in etcd).
MAX_VALUE_CHARS = 64 * 1024
# Lists are flat lists of strings: one level. A little slack still names the problem well.
MAX_JSON_DEPTH = 8
# AKS names the node resource group MC_<group>_<cluster>_<region> and refuses names over 80 characters.
MAX_NODE_RESOURCE_GROUP_CHARS = 80
# pulumi-azure-native auto-names with the logical name, '-' and 8 random characters.
AUTONAME_SUFFIX_CHARS = 9
# Azure takes Spot prices with at most five decimal places.
SPOT_PRICE_DECIMALS = 5

_ASCII_INTEGER = re.compile(r"[-+]?[0-9]+")
_ASCII_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# MAJOR.MINOR[.PATCH] without leading zeros, ASCII digits only.
_KUBERNETES_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")


_CONTROL_NAMES = {"\n": "a line feed", "\r": "a carriage return", "\t": "a tab", "\0": "a NUL"}


def control_character(text: str, allowed: str = "") -> str | None:
    """A description of the first control or invisible format character in `text` (not in `allowed`), or None."""
    for index, char in enumerate(text):
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "") or "a control character"
            return f"no control characters; it has {name} (U+{ord(char):04X}) at position {index}"
    return None


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, found without recursion."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


# No config integer needs more digits; bounding the length first keeps int() from its
# 4300-digit ValueError (and its quadratic cost) so the value becomes a problem line.
MAX_INTEGER_DIGITS = 18


def ascii_integer(text: str) -> int | None:
    """`text` as an int when it is ASCII digits with an optional sign (int() also takes '１' and '1_0').

    None, too, when it has more than MAX_INTEGER_DIGITS digits.
    """
    if not _ASCII_INTEGER.fullmatch(text) or len(text.lstrip("+-")) > MAX_INTEGER_DIGITS:
        return None
    return int(text)


def finite_number(text: str) -> float | None:
    """`text` as a finite float written with ASCII digits (float() also takes 'nan', 'inf' and '１')."""
    if not _ASCII_NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def decimals(text: str) -> int:
    """Digits after the decimal point of a plain decimal number written as text."""
    mantissa, _, exponent = text.lower().partition("e")
    fraction = mantissa.partition(".")[2]
    return max(0, len(fraction) - int(exponent or 0))


def kubernetes_version_problem(text: str) -> str | None:
    """Why `text` cannot be a Kubernetes version for AKS, or None."""
    match = _KUBERNETES_VERSION.fullmatch(text)
    if not match:
        return "MAJOR.MINOR[.PATCH] in ASCII digits without leading zeros, e.g. 1.33 (quote it in YAML)"
    major, minor = int(match.group(1)), int(match.group(2))
    if major != 1:
        return "a Kubernetes 1.x version, e.g. 1.33"
    if minor < 10:
        return (
            f"a version AKS offers, e.g. 1.33. YAML reads an unquoted 1.{minor}0 as the number 1.{minor}: "
            f'quote it (kubernetesVersion: "1.{minor}0")'
        )
    return None


def minor_version(text: str) -> tuple[int, int] | None:
    """(major, minor) of a Kubernetes version such as 1.34 or 1.34.2, or None when it is not one."""
    match = _KUBERNETES_VERSION.fullmatch(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def managed_gpu_version_problem(version: str) -> str | None:
    """Why a cluster at Kubernetes `version` cannot take an AKS-managed GPU pool, or None."""
    found = minor_version(version)
    low = ".".join(map(str, MANAGED_GPU_MIN_KUBERNETES))
    if found is None or found >= MANAGED_GPU_MIN_KUBERNETES:
        return None
    return (
        f"Kubernetes {low} or later for gpuStack: managed (AKS managed GPU pools, aks-managed-gpu-nodes.md); "
        f"upgrade the cluster (az aks upgrade --kubernetes-version {low}) or use gpuStack: device-plugin"
    )


def image_reference_problem(text: str) -> str | None:
    """Why `text` is not an image reference the distribution grammar accepts, or None.

    docker-image-py ports distribution/reference's grammar; its anchors are
    `^...$`, so whitespace and control characters are refused here first.
    """
    if any(char.isspace() for char in text) or control_character(text):
        return "an image reference without spaces or control characters"
    try:
        Reference.parse_normalized_named(text)
    except InvalidReference as error:
        # The parser's message repeats the repository path, which may be long.
        reason = str(error) if len(str(error)) <= 100 else str(error)[:100] + "..."
        return (
            f"an image reference in the distribution grammar ({reason}); repository paths are lower case, "
            "e.g. nvcr.io/nvidia/k8s-device-plugin:v0.18.0 or registry.example.com/mirror/name@sha256:<64 hex>"
        )
    return None


def namespace_problem(name: str) -> str | None:
    """Why the program may not create the namespace `name`, or None."""
    if name in kubernetes.SYSTEM_NAMESPACES:
        return (
            f"a namespace of its own: every cluster already has {name}, and this program creates "
            "(and on destroy deletes) the namespace it is given"
        )
    if name.startswith(kubernetes.SYSTEM_NAMESPACE_PREFIX):
        return f"a name outside the {kubernetes.SYSTEM_NAMESPACE_PREFIX} prefix, which Kubernetes reserves"
    return None


def node_resource_group_problem(group: str | None, cluster: str | None, location: str | None) -> str | None:
    """Why AKS would refuse the node resource group name MC_<group>_<cluster>_<region>, or None.

    Auto-named groups and clusters get a suffix, which is counted.
    """
    if not location:
        return None
    auto_group = names.child_name(names.CLUSTER_COMPONENT, names.RESOURCE_GROUP)
    auto_cluster = names.child_name(names.CLUSTER_COMPONENT, names.CLUSTER)
    group_chars = len(group) if group else len(auto_group) + AUTONAME_SUFFIX_CHARS
    cluster_chars = len(cluster) if cluster else len(auto_cluster) + AUTONAME_SUFFIX_CHARS
    total = len("MC___") + group_chars + cluster_chars + len(location.replace(" ", ""))
    if total <= MAX_NODE_RESOURCE_GROUP_CHARS:
        return None
    return (
        f"shorter names: AKS names the node resource group MC_<resourceGroupName>_<clusterName>_<region>, "
        f"which would have {total} characters here; at most {MAX_NODE_RESOURCE_GROUP_CHARS} are allowed"
    )


def existing_pool_conflict(
    pool_name: str, vm_size: str, profiles: Iterable[Mapping[str, Any]], owner: str
) -> str | None:
    """Why adding the GPU pool `pool_name` to an existing cluster would clobber one of its pools, or None.

    `profiles` are the cluster's `agentPoolProfiles` as getManagedCluster returns
    them. A pool of the same name is this stack's own when it carries the stack's
    OWNER_TAG; an untagged pool (made before the tag existed) counts as its own only
    when it is a User pool of the configured size. A System pool, like AKS's first
    pool `nodepool1`, never is.
    """
    for profile in profiles:
        if str(profile.get("name", "")).lower() != pool_name.lower():
            continue
        tags = profile.get("tags") or {}
        tagged = tags.get(OWNER_TAG)
        if tagged == owner:
            return None
        if tagged:
            return f"a pool name the cluster does not use yet: its pool '{pool_name}' belongs to the stack {tagged}"
        mode = str(profile.get("mode", "")).lower()
        if mode == "user" and str(profile.get("vmSize", "")).lower() == vm_size.lower():
            return None
        if mode == "system":
            return (
                f"a pool name the cluster does not use yet: '{pool_name}' is the cluster's System pool "
                f"({profile.get('vmSize', 'unknown size')}); this stack would overwrite it"
            )
        return (
            f"a pool name the cluster does not use yet: it already has a pool '{pool_name}' "
            f"({profile.get('vmSize', 'unknown size')}) that this stack did not create. If an earlier "
            f"version of this stack did create it, tag it: az aks nodepool update --tags {OWNER_TAG}={owner} ..."
        )
    return None


# Tag this program puts on the GPU pool to recognise its own pool in an existing cluster.
OWNER_TAG = "aks-gpu-stack"
