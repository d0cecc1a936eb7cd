"""The project's Python passes ruff (rules in ruff.toml), so CI enforces it too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.harness import ROOT

RUFF = str(Path(sys.executable).with_name("ruff"))


def test_ruff_check():
    result = subprocess.run([RUFF, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = subprocess.run([RUFF, "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
