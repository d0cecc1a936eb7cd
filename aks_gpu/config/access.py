"""Settings of how people and pipelines reach the cluster: Microsoft Entra ID and kubelogin."""

from __future__ import annotations

import dataclasses
import re

from aks_gpu.config.cluster import ClusterSettings
from aks_gpu.config.project import PROJECT, ConfigReader, declared_default
from aks_gpu.facts.entra import NON_INTERACTIVE_LOGINS, REFUSED_LOGINS

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclasses.dataclass(frozen=True)
class AccessSettings:
    """Who may use the Kubernetes API, and how this stack signs in to it.

    Attributes:
        entra_id: a new cluster uses AKS-managed Entra ID with Azure RBAC and no local accounts.
        admin_group_object_ids: Entra groups given cluster admin on a new Entra ID cluster.
        kubelogin_mode: how kubelogin gets tokens for an Entra ID cluster (new or existing),
            one of `NON_INTERACTIVE_LOGINS`.
    """

    entra_id: bool
    admin_group_object_ids: tuple[str, ...]
    kubelogin_mode: str


def read_access(r: ConfigReader, cluster: ClusterSettings) -> AccessSettings:
    """Validate the access keys, recording every problem in `r`."""
    entra_id = r.boolean("entraId")
    groups = _group_ids(r)
    mode = _kubelogin_mode(r)
    if groups and not entra_id:
        r.problems.append(
            f"{PROJECT}:entraAdminGroupObjectIds is set but entraId is false: admin groups exist only on an "
            "Entra ID cluster; set entraId to true, or remove the groups"
        )
    if entra_id and cluster.existing:
        r.problems.append(
            f"{PROJECT}:entraId is true together with existingClusterName: entraId configures a cluster this "
            "stack creates; an existing cluster keeps its own sign-in, which the program reads from its "
            "kubeconfig (set kubeloginMode for how to log in to it)"
        )
    # kubeloginMode alone is allowed: a kubeconfig without kubelogin passes unchanged,
    # so pipelines may set the mode that fits their sign-in for every stack.
    return AccessSettings(entra_id=entra_id, admin_group_object_ids=groups, kubelogin_mode=mode)


def _group_ids(r: ConfigReader) -> tuple[str, ...]:
    groups = r.string_list("entraAdminGroupObjectIds")
    bad = [group for group in groups if not _GUID.fullmatch(group.strip())]
    if bad:
        r.fail(
            "entraAdminGroupObjectIds",
            list(groups),
            f"object IDs of Entra groups, each a GUID such as 00000000-0000-0000-0000-000000000000 "
            f"(not {', '.join(repr(b) for b in bad)}); group names are not accepted",
        )
        return ()
    # Lower case: Entra IDs are case-insensitive and ARM returns them lower case.
    return tuple(dict.fromkeys(group.strip().lower() for group in groups))


def _kubelogin_mode(r: ConfigReader) -> str:
    mode = r.string("kubeloginMode")
    if mode in REFUSED_LOGINS:
        r.fail(
            "kubeloginMode",
            mode,
            f"{mode} cannot work here because {REFUSED_LOGINS[mode]}, and pulumi up and the GPU verification "
            "run without anyone at the keyboard. Use azurecli on a laptop after az login, azurecli or "
            "workloadidentity in GitHub Actions, azurepipelines in Azure Pipelines, msi on an Azure VM, or spn "
            "with a service principal",
        )
        return str(declared_default("kubeloginMode"))
    return r.choice("kubeloginMode", tuple(NON_INTERACTIVE_LOGINS))
