"""The message of a verification that timed out: what was counted, what was left out and why, usual causes.

Every node list in it is capped (`report.capped`): with thousands of nodes the
message stays a screenful, and the JSON report still holds every node.
"""

from __future__ import annotations

from aks_gpu.facts.kubernetes import SPOT_TAINT
from aks_gpu.verifier.report import GpuReport, capped

USUAL_CAUSES = (
    (
        "the NVIDIA device plugin does not tolerate the GPU pool's taints (e.g. sku=gpu:NoSchedule) "
        f"or the spot taint {SPOT_TAINT}"
    ),
    "the device plugin DaemonSet is not running on the GPU nodes, or runs a wrong image",
    "the NVIDIA driver install is still in progress or failed (capacity stays 0 on a GPU VM)",
    "the nodes are still provisioning, or the autoscaler keeps the GPU pool at 0 nodes",
    "the subscription has no GPU quota for this VM family in the region, so the pool cannot scale up",
    "GPU nodes are NotReady, unreachable or cordoned (their GPUs do not count; see the nodes left out)",
    "with MIG and the mixed strategy the GPUs are advertised as nvidia.com/mig-<profile>: pass that resource",
)


def timeout_message(report: GpuReport, timeout: float, selector: str, last_error: str | None) -> str:
    """Why the wait for `report.expected` GPUs ended without them, for people; bounded in length."""
    lines = [
        f"Timed out after {timeout:g}s waiting for {report.expected} allocatable {report.resource} "
        f"on usable nodes: {report.verified} verified."
    ]
    if last_error:
        lines.append(f"Last API error: {last_error}")
    left_out = [node for node in report.nodes if not node.usable]
    counted = sorted((node for node in report.nodes if node.usable), key=lambda node: (node.allocatable, node.name))
    if left_out:
        lines.append(
            f"Left out, not ready or not schedulable ({len(left_out):,} of {len(report.nodes):,} GPU node(s)):"
        )
        lines.extend(f"  {line}" for line in capped(node.describe() for node in left_out))
    if counted:
        lines.append(f"GPU nodes counted (matching {selector}), fewest allocatable first:")
        lines.extend(f"  {line}" for line in capped(node.describe() for node in counted))
    if not report.nodes:
        lines.append(f"No node matches the selector {selector} yet.")
    lines.append("Usual causes:")
    lines.extend(f"  - {cause}" for cause in USUAL_CAUSES)
    return "\n".join(lines)
