"""`pulumi preview` with the real Pulumi CLI and a real Azure login.

Skipped unless both are at hand: set AKS_GPU_LIVE_STACK to a stack you own
(with `az login` done and the stack's backend logged in) to run it. It proves
what the mock engine cannot: that the Pulumi CLI accepts Pulumi.yaml and that
Azure accepts the planned resources' shapes.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.harness import ROOT

STACK = os.environ.get("AKS_GPU_LIVE_STACK")

pytestmark = pytest.mark.skipif(
    not (STACK and shutil.which("pulumi")),
    reason="needs the Pulumi CLI and AKS_GPU_LIVE_STACK (a stack with Azure credentials); neither is set here",
)


def test_preview_of_a_real_stack_succeeds():
    result = subprocess.run(
        ["pulumi", "preview", "--stack", STACK, "--non-interactive", "--diff"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
