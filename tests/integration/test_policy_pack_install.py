"""The policy pack does not depend on where `aks_gpu` is installed (no Pulumi.yaml sits beside a non-editable one).

`pip install .` copies the package into site-packages, so anything that finds
Pulumi.yaml next to the installed `aks_gpu` finds nothing. The pack runs from a
checkout (the CLI starts it in policy/), and reads the checkout's Pulumi.yaml.
Here a copy of the package in a folder without Pulumi.yaml stands in for
site-packages, first on the path, as it would be after a non-editable install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.support.harness import ROOT

PROBE = """
import sys
site, root = sys.argv[1], sys.argv[2]
sys.path[:0] = [site]
import aks_gpu
assert aks_gpu.__file__.startswith(site), aks_gpu.__file__
sys.path.append(root)
from policy import rules
print(rules.DEFAULT_GPU_TAINT)
"""


def test_the_rules_load_with_aks_gpu_installed_away_from_pulumi_yaml(tmp_path):
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "aks_gpu", site / "aks_gpu", ignore=shutil.ignore_patterns("__pycache__"))
    assert not (site / "Pulumi.yaml").exists() and not (tmp_path / "Pulumi.yaml").exists()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(site), str(ROOT)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "sku=gpu:NoSchedule"
