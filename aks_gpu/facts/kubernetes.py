"""Kubernetes and AKS names: label syntax, the labels and taints AKS puts on GPU nodes, and `Taint`.

Sources: Kubernetes "Labels and Selectors" and "Taints and Tolerations"
(core/v1 Toleration semantics); AKS use-labels.md, use-nvidia-gpu.md and
spot-node-pool.md (MicrosoftDocs/azure-aks-docs).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

# --- Label syntax -------------------------------------------------------------------

# A name segment: at most 63 characters, alphanumeric at both ends, '-', '_', '.' inside.
LABEL_NAME_PATTERN = r"[A-Za-z0-9](?:[-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?"
# An optional DNS-subdomain prefix (at most 253 characters) and a '/'.
LABEL_KEY_PATTERN = rf"(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{LABEL_NAME_PATTERN}"
_LABEL_KEY = re.compile(LABEL_KEY_PATTERN)
_LABEL_VALUE = re.compile(rf"(?:{LABEL_NAME_PATTERN})?")
# A DNS label (RFC 1123): namespace names and similar.
DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")


def is_label_key(text: str) -> bool:
    """Whether `text` is a valid label (or taint) key: `[prefix/]name`."""
    return _LABEL_KEY.fullmatch(text) is not None


def is_label_value(text: str) -> bool:
    """Whether `text` is a valid label (or taint) value; the empty string is one."""
    return _LABEL_VALUE.fullmatch(text) is not None


# --- Labels and extended resources on AKS GPU nodes ---------------------------------

# AKS labels every node with its agent pool's name; the cluster autoscaler's
# template node for a scale-up from zero carries it too.
AGENT_POOL_LABEL = "kubernetes.azure.com/agentpool"
# AKS labels NVIDIA GPU nodes with this (the seed's bare `accelerator` label is deprecated).
ACCELERATOR_LABEL = ("kubernetes.azure.com/accelerator", "nvidia")
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
# Label prefix AKS keeps for itself: node pools may not set labels under it.
AKS_RESERVED_LABEL_PREFIX = "kubernetes.azure.com/"
_AKS_NAMESPACE = AKS_RESERVED_LABEL_PREFIX.rstrip("/")

# Node labels the kubelet or the cloud provider sets on every node by itself
# (k8s.io/api core/v1 well_known_labels.go); a pool label would contradict them.
SELF_SET_NODE_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/instance-type",
        INSTANCE_TYPE_LABEL,
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
    }
)
# Label namespaces a kubelet may set on its own node under the Kubernetes domains ([*.]ns/...).
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
# The namespace NodeRestriction keeps from kubelets, so admins can trust labels under it.
NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"
KUBERNETES_NAMESPACES = ("kubernetes.io", "k8s.io")


def label_namespace(key: str) -> str:
    """The prefix of a label or taint key (before '/'), '' when it has none."""
    prefix, sep, _ = key.rpartition("/")
    return prefix if sep else ""


def _in_namespace(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def reserved_node_label_reason(key: str) -> str | None:
    """Why an AKS node pool may not carry the label `key`, or None when it may.

    AKS node pool labels reach the node through the kubelet's --node-labels, and
    the kubelet refuses to start with a kubernetes.io or k8s.io label outside the
    namespaces NodeRestriction lets it self-set ([*.]kubelet.kubernetes.io,
    [*.]node.kubernetes.io and the well-known labels it sets itself).
    """
    namespace = label_namespace(key)
    if _in_namespace(namespace, _AKS_NAMESPACE):
        return f"AKS reserves the {AKS_RESERVED_LABEL_PREFIX} prefix for the labels it sets itself"
    if key in SELF_SET_NODE_LABELS:
        return "the kubelet or the cloud provider sets this label on every node itself"
    if _in_namespace(namespace, NODE_RESTRICTION_NAMESPACE):
        return (
            f"NodeRestriction keeps {NODE_RESTRICTION_NAMESPACE}/ labels from kubelets, so nodes cannot self-set them"
        )
    kubernetes_domain = any(_in_namespace(namespace, domain) for domain in KUBERNETES_NAMESPACES)
    if kubernetes_domain and not any(_in_namespace(namespace, ns) for ns in KUBELET_LABEL_NAMESPACES):
        return (
            "the kubelet refuses kubernetes.io and k8s.io labels other than [*.]kubelet.kubernetes.io/ "
            "and [*.]node.kubernetes.io/ ones (NodeRestriction), so the nodes would never join; "
            "use your own prefix, e.g. example.com/role"
        )
    return None


def reserved_taint_reason(key: str) -> str | None:
    """Why an AKS node pool may not declare a taint with `key`, or None when it may.

    AKS adds and reconciles kubernetes.azure.com/ taints itself (the Spot taint);
    Kubernetes' own controllers add and remove the kubernetes.io and k8s.io ones
    (node.kubernetes.io/not-ready, .../unschedulable, node-role.kubernetes.io/...).
    """
    namespace = label_namespace(key)
    if _in_namespace(namespace, _AKS_NAMESPACE):
        return f"AKS reserves {AKS_RESERVED_LABEL_PREFIX} taints; it adds the Spot taint itself (gpuSpot: true)"
    if any(_in_namespace(namespace, domain) for domain in KUBERNETES_NAMESPACES):
        return "Kubernetes' own controllers add and remove kubernetes.io and k8s.io taints; use your own key"
    return None


# Namespaces every AKS cluster already has; the program creates its namespace, so
# naming one of these would fail with AlreadyExists (or adopt a system namespace).
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Kubernetes reserves the kube- prefix for its own namespaces.
SYSTEM_NAMESPACE_PREFIX = "kube-"

# What the NVIDIA device plugin advertises per GPU (or per MIG instance with the `single` strategy).
GPU_RESOURCE = "nvidia.com/gpu"
# With the `mixed` MIG strategy each instance is advertised as nvidia.com/mig-<slice>.
MIG_RESOURCE_PREFIX = "nvidia.com/mig-"


# --- Taints ---------------------------------------------------------------------------

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Effects that keep pods without a toleration off a node (PreferNoSchedule only discourages).
HARD_TAINT_EFFECTS = ("NoSchedule", "NoExecute")


@dataclasses.dataclass(frozen=True)
class Taint:
    """A node taint, written by AKS and this program as `key=value:Effect` or `key:Effect`."""

    key: str
    value: str
    effect: str

    @classmethod
    def parse(cls, text: str) -> Taint:
        """Parse AKS's `key[=value]:Effect` form.

        Raises ValueError naming what is wrong: a missing or unknown effect, or a
        key or value outside Kubernetes label syntax.
        """
        head, sep, effect = text.rpartition(":")
        if not sep or not head:
            raise ValueError("write it as key=value:Effect or key:Effect")
        if effect not in TAINT_EFFECTS:
            raise ValueError("the effect must be one of " + ", ".join(TAINT_EFFECTS))
        key, _, value = head.partition("=")
        if not is_label_key(key):
            raise ValueError("the key must have Kubernetes label-key syntax ([prefix/]name)")
        if not is_label_value(value):
            raise ValueError("the value must have Kubernetes label-value syntax (at most 63 characters)")
        return cls(key, value, effect)

    @classmethod
    def try_parse(cls, text: str) -> Taint | None:
        """`parse`, or None when `text` is not a valid taint."""
        try:
            return cls.parse(text)
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"

    def toleration(self) -> dict[str, str]:
        """The core/v1 Toleration that lets a pod onto nodes carrying this taint."""
        if self.value:
            return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}
        return {"key": self.key, "operator": "Exists", "effect": self.effect}

    def tolerated_by(self, toleration: Mapping[str, Any]) -> bool:
        """Kubernetes' matching of one toleration (a core/v1 Toleration as a dict) against this taint."""
        effect = toleration.get("effect") or ""
        if effect and effect != self.effect:
            return False
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or "Equal"
        if not key:
            # An empty key with Exists tolerates every taint.
            return operator == "Exists"
        if key != self.key:
            return False
        return operator == "Exists" or (toleration.get("value") or "") == self.value


# AKS adds this taint to every Spot node pool by itself.
SPOT_TAINT = Taint("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")
