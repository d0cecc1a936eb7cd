"""Settings of the GPU verification that runs during `pulumi up`."""

from __future__ import annotations

import dataclasses

from aks_gpu.config.project import ConfigReader


@dataclasses.dataclass(frozen=True)
class VerificationSettings:
    """Whether and how long `pulumi up` waits for the GPUs.

    Attributes:
        enabled: wait until the GPU nodes advertise the expected allocatable GPUs.
        timeout_seconds: how long to wait (60-7200 seconds).
    """

    enabled: bool
    timeout_seconds: int


def read_verification(r: ConfigReader) -> VerificationSettings:
    """Validate the verification's keys, recording every problem in `r`."""
    return VerificationSettings(
        enabled=r.boolean("verifyGpus"),
        timeout_seconds=r.integer("verifyTimeoutSeconds", 60, 7200),
    )
