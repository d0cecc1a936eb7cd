"""Kubernetes Pod Security Standards facts: what a pod may ask of its node under the Baseline profile.

Source: kubernetes.io/docs/concepts/security/pod-security-standards (Baseline:
"Host Namespaces", "Privileged Containers", "Capabilities", "HostPath Volumes")
and the core/v1 SecurityContext reference (allowPrivilegeEscalation).
"""

from __future__ import annotations

# Pod fields that share the node's process, IPC or network namespace with the pod.
HOST_NAMESPACE_FIELDS = ("hostPID", "hostIPC", "hostNetwork")

# The only capabilities Baseline lets a container add; any other (SYS_ADMIN,
# SYS_MODULE, SYS_PTRACE, NET_ADMIN, BPF, ALL, ...) reaches beyond the container.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def capability_name(text: str) -> str:
    """A capability as the container runtime reads it: upper case, without the `CAP_` prefix."""
    name = text.strip().upper()
    return name.removeprefix("CAP_")
