"""The config layer reads the Pulumi.yaml of the project being run, not one beside the package (issue 14)."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.errors import RunError
from pulumi.runtime import settings as runtime_settings

from aks_gpu.config.project import declared_keys, project_file

DECLARATION = "name: aks-gpu\nruntime: python\nconfig:\n  gpuPoolName:\n    type: string\n    default: gpu\n"


def test_found_in_the_working_directory_and_its_parents(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text(DECLARATION)
    nested = tmp_path / "infra" / "gpu"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)

    assert project_file() == (tmp_path / "Pulumi.yaml").resolve()
    assert list(declared_keys()) == ["gpuPoolName"]


def test_the_engine_root_directory_comes_first(tmp_path, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pulumi.yaml").write_text(DECLARATION)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "Pulumi.yaml").write_text("name: other\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(runtime_settings.SETTINGS, "root_directory", str(root))

    assert pulumi.runtime.get_root_directory() == str(root)
    assert project_file() == (root / "Pulumi.yaml").resolve()


def test_no_project_file_is_a_message_naming_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(RunError, match=rf"Pulumi.yaml of project aks-gpu not found in {tmp_path}"):
        project_file()
