"""The program's preflight step: runs `aks_gpu.preflight` with the provider's settings, before any resource.

Not a component: nothing is registered. It logs why it skipped, and stops the
program with one RunError naming every problem it found.
"""

from __future__ import annotations

import os

import pulumi
from pulumi.errors import RunError

from aks_gpu.config.settings import Settings
from aks_gpu.preflight import check

# azure-native config keys the preflight reads (the provider's own settings).
PROVIDER_KEYS = ("subscriptionId", "tenantId", "clientId", "clientSecret", "useOidc", "oidcToken", "useMsi")


class PreflightError(RunError):
    """Azure cannot hold or does not offer what the stack would create; one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"The Azure preflight found {count}; nothing was created:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\n(The check runs because aks-gpu:preflight is true; {check.TURN_OFF} skips it.)"
        )


def run_preflight(settings: Settings) -> None:
    """Check quota and availability in preview and up; raise PreflightError on problems."""
    if not settings.preflight:
        return
    config = pulumi.Config("azure-native")
    provider_config = {key: config.get(key) for key in PROVIDER_KEYS}
    outcome = check.run(settings, provider_config, dict(os.environ))
    if outcome.skipped:
        pulumi.log.warn(f"Azure preflight skipped (quota and VM size availability not checked): {outcome.skipped}")
    for warning in outcome.warnings:
        pulumi.log.warn(f"Azure preflight: {warning}")
    if outcome.problems:
        raise PreflightError(outcome.problems)
