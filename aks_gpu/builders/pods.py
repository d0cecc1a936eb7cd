"""Kubernetes pieces shared by the GPU workloads: the namespace, placement and tolerations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aks_gpu.facts.kubernetes import AGENT_POOL_LABEL, Taint

PART_OF = {"app.kubernetes.io/part-of": "aks-gpu"}


def namespace(name: str) -> dict[str, Any]:
    """A core/v1 Namespace labelled as part of aks-gpu."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(PART_OF)}}


def tolerations_for(taints: Iterable[Taint]) -> list[dict[str, str]]:
    """One toleration per taint, in order."""
    return [taint.toleration() for taint in taints]


def gpu_node_affinity(pool_name: str) -> dict[str, Any]:
    """Required affinity for the GPU pool's nodes, by their agent pool label alone.

    The cluster autoscaler scales a pool up from zero only for pods whose required
    labels its template node carries; the agent pool label is always there, AKS's
    accelerator label only for some sizes (so it is not required here).
    """
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": AGENT_POOL_LABEL, "operator": "In", "values": [pool_name]},
                        ]
                    }
                ]
            }
        }
    }


def with_name(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A copy of `obj` with metadata.name set, for schema validation of auto-named objects."""
    return {**obj, "metadata": {**obj["metadata"], "name": name}}
