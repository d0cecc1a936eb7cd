"""The package's layers import only downwards, facts live in one module, and modules stay small.

facts -> config -> builders -> components -> __main__.py; the verifier imports
facts only and never pulumi; the policy pack imports the facts (and the project's
config declaration) instead of restating them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.harness import ROOT

# What each layer may import from this project (its own layer always).
ALLOWED = {
    "aks_gpu.facts": set(),
    "aks_gpu.config": {"aks_gpu.facts"},
    "aks_gpu.builders": {"aks_gpu.facts", "aks_gpu.config", "aks_gpu.workloads"},
    # The Azure preflight reads the settings' types and never imports pulumi itself.
    "aks_gpu.preflight": {"aks_gpu.facts", "aks_gpu.config"},
    "aks_gpu.verifier": {"aks_gpu.facts", "aks_gpu.workloads"},
    "aks_gpu.workloads": set(),
    "aks_gpu.components": {
        "aks_gpu.facts",
        "aks_gpu.config",
        "aks_gpu.builders",
        "aks_gpu.verifier",
        "aks_gpu.preflight",
    },
    "policy": {"aks_gpu.facts", "aks_gpu.config.project"},
    "components": {"aks_gpu.components", "aks_gpu.verifier"},
}
# Third-party packages a layer must not import at all.
FORBIDDEN = {
    "aks_gpu.facts": {"pulumi", "pulumi_azure_native", "pulumi_kubernetes", "kubernetes"},
    "aks_gpu.config": {"pulumi_azure_native", "pulumi_kubernetes", "kubernetes"},
    "aks_gpu.builders": {"pulumi", "pulumi_azure_native", "pulumi_kubernetes", "kubernetes"},
    "aks_gpu.preflight": {"pulumi", "pulumi_azure_native", "pulumi_kubernetes", "kubernetes"},
    "aks_gpu.verifier": {"pulumi", "pulumi_azure_native", "pulumi_kubernetes"},
    "aks_gpu.workloads": {"pulumi", "pulumi_azure_native", "pulumi_kubernetes", "kubernetes", "aks_gpu"},
}
PROGRAM_DIRS = ("aks_gpu", "components", "policy")


def program_modules() -> list[Path]:
    files = [p for d in PROGRAM_DIRS for p in (ROOT / d).rglob("*.py")]
    return sorted(files + [ROOT / "__main__.py"])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    return max((layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), key=len, default=None)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(path: Path, module: str | None = None) -> list[str]:
    module = module or module_name(path)
    layer = layer_of(module)
    if layer is None:
        return []
    problems = []
    for imported in imports(path):
        target = layer_of(imported)
        if target and target != layer and not any(imported.startswith(a) for a in ALLOWED[layer]):
            if not any(imported == a or a.startswith(imported + ".") for a in ALLOWED[layer]):
                problems.append(f"{module} imports {imported}")
        top = imported.split(".")[0]
        if top in FORBIDDEN.get(layer, ()):
            problems.append(f"{module} imports {imported}, which its layer must not use")
    return problems


def test_every_program_module_belongs_to_a_layer():
    orphans = [module_name(p) for p in program_modules() if layer_of(module_name(p)) is None]
    assert orphans in ([], ["__main__"]) or orphans == ["__main__", "aks_gpu"]


@pytest.mark.parametrize("path", program_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    assert violations(path) == []


def test_the_check_catches_upward_and_forbidden_imports(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text("from aks_gpu.config.settings import Settings\nimport pulumi\n")
    assert sorted(violations(fake, "aks_gpu.facts.fake")) == [
        "aks_gpu.facts.fake imports aks_gpu.config.settings",
        "aks_gpu.facts.fake imports aks_gpu.config.settings.Settings",
        "aks_gpu.facts.fake imports pulumi, which its layer must not use",
    ]
    assert violations(fake, "aks_gpu.components.fake") == []


# Facts that once lived in two or three places: each is now written in one module.
ONE_HOME = {
    "/var/lib/kubelet/device-plugins": "aks_gpu/facts/device_plugin.py",
    "nvidia-device-plugin": "aks_gpu/facts/device_plugin.py",
    "kubernetes.azure.com/scalesetpriority": "aks_gpu/facts/kubernetes.py",
    "kubernetes.azure.com/agentpool": "aks_gpu/facts/kubernetes.py",
    "kubernetes.azure.com/accelerator": "aks_gpu/facts/kubernetes.py",
    "PreferNoSchedule": "aks_gpu/facts/kubernetes.py",
    "Microsoft.ContainerService": "aks_gpu/facts/azure.py",
    "ManagedGPUExperiencePreview": "aks_gpu/facts/azure.py",
    # AKS MIG profile names, once (with what each makes of a GPU); azure.MIG_PROFILES lists them.
    **dict.fromkeys(("MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g"), "aks_gpu/facts/gpu_models.py"),
    # Component type tokens: each component takes its own from naming.py.
    **dict.fromkeys(
        (
            "aks-gpu:index:GpuCluster",
            "aks-gpu:index:NvidiaDevicePlugin",
            "aks-gpu:index:SampleGpuJob",
            "aks-gpu:index:GpuVerification",
            "aks-gpu:index:GpuAcceptance",
        ),
        "aks_gpu/components/naming.py",
    ),
    # A child's role, which the config layer needs for the auto-name's length.
    "resource-group": "aks_gpu/facts/names.py",
}


def string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


# The components named after the plugin are Pulumi resource names, not the Kubernetes fact.
RESOURCE_NAMES = {
    "nvidia-device-plugin": {"__main__.py", "aks_gpu/components/naming.py", "aks_gpu/components/device_plugin.py"}
}


def holders(fact: str) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in program_modules() if any(fact in s for s in string_constants(p)))


@pytest.mark.parametrize("fact, home", sorted(ONE_HOME.items()))
def test_each_fact_is_written_once(fact, home):
    assert sorted(set(holders(fact)) - RESOURCE_NAMES.get(fact, set())) == [home]


# Child names are composed (facts/names.py), never written whole: the config layer's
# length check and the component must not drift apart.
COMPOSED = ("aks-gpu-cluster", "aks-gpu-resource-group")


@pytest.mark.parametrize("name", COMPOSED)
def test_child_names_are_composed_not_written(name):
    assert holders(name) == []


MAX_MODULE_LINES = 400


@pytest.mark.parametrize("path", program_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_program_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


def test_lint_config_enforces_complexity_and_docstrings():
    import tomllib

    config = tomllib.loads((ROOT / "ruff.toml").read_text())
    assert config["lint"]["mccabe"]["max-complexity"] == 10
    assert {"C90", "D100", "D101", "D102", "D103", "D104"} <= set(config["lint"]["select"])
    # Only tests and benchmarks are exempt.
    assert set(config["lint"]["per-file-ignores"]) == {"tests/**", "benchmarks/**"}


# __main__.py only composes: it reads the validated settings and passes the components
# to each other. Anything it derived itself (a selector, a trigger, a toleration) could
# disagree with what another component derives from the same pool.
MAIN_MAY_IMPORT = ("pulumi", "aks_gpu.components.", "aks_gpu.config.settings")


def test_main_imports_only_components_and_settings():
    tree = ast.parse((ROOT / "__main__.py").read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported and all(m == "pulumi" or m.startswith(MAIN_MAY_IMPORT[1:]) for m in imported), imported


def test_main_builds_no_values_of_its_own():
    # No dict, list or f-string literal: every value a component takes comes from settings or another component.
    tree = ast.parse((ROOT / "__main__.py").read_text())
    built = [type(node).__name__ for node in ast.walk(tree) if isinstance(node, (ast.Dict, ast.List, ast.JoinedStr))]
    assert built == []
