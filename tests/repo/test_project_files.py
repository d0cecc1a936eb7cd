"""The project's public shape: Pulumi.yaml declarations, README tables, pins, CI."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from tests.support.harness import ROOT

PRIMITIVE = {"string": str, "integer": int, "boolean": bool}


def project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_project_identity_and_runtime():
    p = project()
    assert p["name"] == "aks-gpu"
    assert p["runtime"]["name"] == "python"
    assert p["runtime"]["options"]["virtualenv"] == ".venv"


def test_every_config_key_is_declared_with_type_default_and_description():
    # Pulumi treats a declared key without a default as required for every stack,
    # and accepts only these types in project config.
    for key, spec in project()["config"].items():
        assert set(spec) == {"type", "default", "description"} | ({"items"} if spec["type"] == "array" else set()), key
        assert spec["description"].strip(), key
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}, key
            assert isinstance(spec["default"], list) and all(isinstance(v, str) for v in spec["default"]), key
        else:
            assert type(spec["default"]) is PRIMITIVE[spec["type"]], key


def test_dev_stack_sets_only_declared_keys():
    declared = set(project()["config"])
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    for key in stack:
        namespace, name = key.split(":", 1)
        assert namespace == "azure-native" or (namespace == "aks-gpu" and name in declared), key
    assert stack["azure-native:location"] == "eastus"


def test_readme_tables_are_generated_from_the_sources():
    result = subprocess.run(
        [sys.executable, "scripts/readme_tables.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_readme_mentions_every_output_the_program_exports():
    exported = set(re.findall(r'pulumi\.export\("(\w+)"', (ROOT / "__main__.py").read_text()))
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Outputs", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert exported == documented


def test_requirements_are_pinned():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    # The project itself is the one unpinned line: it is this checkout.
    assert "-e ." in requirements
    others = [r for r in requirements if r != "-e ."]
    assert others and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", r) for r in others), others


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)```", readme, re.S)
    test_command = next(c.strip() for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
