"""`pip install <repo>` (not editable) runs a project folder as well as `pip install -e .` does (issue 14).

A user's project folder holds only Pulumi.yaml, Pulumi.<stack>.yaml and __main__.py;
the package lives in site-packages, far from any Pulumi.yaml. The test builds a fresh
virtualenv, installs a copy of the repository into it without `-e`, and runs the dev
stack under the mock engine from such a folder, in that virtualenv's interpreter,
with neither the checkout nor the editable install on the path. The dependencies
come from the test runner's own site-packages through a `.pth` line (a plain path:
its `.pth` files, the editable install's among them, are not processed), so the test
needs no network and no download.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.support.harness import PROJECT, ROOT, run_program, stack_config

pytestmark = pytest.mark.slow

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py")
# What an install of the repository needs; tests, pipelines and caches stay behind.
SOURCE_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "*.egg-info", "__pycache__", ".*_cache", "tests", "benchmarks", "docs"
)
PROBE = """
import json, sys
from pathlib import Path
import aks_gpu
from harness import run_program
run = run_program({"aks-gpu:preflight": False}, preview=True, project_dir=Path(sys.argv[1]))
print(json.dumps({"package": aks_gpu.__file__, "path": sys.path, "urns": sorted(r.urn for r in run.resources)}))
"""


def _purelib(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv holding a non-editable install of a copy of the repository."""
    base = tmp_path_factory.mktemp("clean-install")
    venv.create(base / "venv", with_pip=False, symlinks=True)
    python = base / "venv" / "bin" / "python"
    (_purelib(python) / "runner-site-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=SOURCE_IGNORED)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps"]
        + ["--no-build-isolation", "--no-index", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    return python


def test_a_folder_with_only_the_project_files_runs_against_a_non_editable_install(installed, tmp_path):
    project = tmp_path / "my-gpu-project"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, project / name)
    support = tmp_path / "support"
    support.mkdir()
    shutil.copy(ROOT / "tests" / "support" / "harness.py", support / "harness.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARM_", "AZURE_", "PYTHON"))}
    env["PYTHONPATH"] = str(support)

    completed = subprocess.run(
        [str(installed), "-c", PROBE, str(project)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    site_packages = _purelib(installed)
    assert Path(result["package"]).is_relative_to(site_packages), result["package"]
    assert not any(Path(p).resolve() == ROOT for p in result["path"] if p), "the checkout is on the path"
    from_checkout = run_program({"aks-gpu:preflight": False}, preview=True)
    assert result["urns"] == sorted(r.urn for r in from_checkout.resources)


def test_the_harness_applies_declared_defaults_as_the_engine_does():
    # mergeConfig (pulumi/pulumi sdk/go/common/workspace/config.go): a declared key the
    # stack leaves unset gets its default; a key the stack sets keeps the stack's value.
    import yaml

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = stack_config("dev", {"gpuNodeCount": 3})

    for key, spec in declared.items():
        full_key = f"{PROJECT}:{key}"
        expected = stack.get(full_key, spec.get("default"))
        assert config[full_key] == (3 if key == "gpuNodeCount" else expected), key
