"""The package passes `mypy --strict` as configured in pyproject.toml ([tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_reports_no_errors():
    # The configuration (strict, files = aks_gpu, pulumi_azure_native skipped so a cold
    # run takes seconds, not minutes) lives in pyproject.toml, so a plain `mypy` agrees.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 0, result.stdout + result.stderr
