"""Undeclared keys in the project's namespace are refused, naming the nearest declared key."""

from __future__ import annotations

from collections.abc import Iterator

import pulumi
import pytest

from aks_gpu.config.project import SettingsError
from aks_gpu.config.settings import read_settings


@pytest.fixture
def engine_config() -> Iterator[dict[str, object]]:
    # The engine loads PULUMI_CONFIG into this bag; read_settings must look at all of it.
    bag: dict[str, object] = {}
    token = pulumi.runtime.config.CONFIG.set(bag)
    yield bag
    pulumi.runtime.config.CONFIG.reset(token)


@pytest.mark.parametrize("typo", ["gpuVMSize", "gpuvmsize", "gpuVmSise"])
def test_a_misspelled_key_is_refused_with_the_nearest_key(engine_config: dict[str, object], typo: str) -> None:
    engine_config[f"aks-gpu:{typo}"] = "Standard_NC24ads_A100_v4"
    with pytest.raises(SettingsError) as err:
        read_settings()
    [line] = [p for p in err.value.problems if typo in p]
    assert f"aks-gpu:{typo} is not a setting" in line
    assert "did you mean `gpuVmSize`?" in line


def test_other_namespaces_are_left_alone(engine_config: dict[str, object]) -> None:
    engine_config["azure-native:location"] = "eastus"
    engine_config["kubernetes:context"] = "x"
    engine_config["pulumi:tags"] = "{}"
    engine_config["aks-gpu2:gpuVmSize"] = "x"
    read_settings()


def test_an_integer_of_thousands_of_digits_is_a_problem_line_naming_the_key() -> None:
    from datetime import date

    from aks_gpu.config.project import declared_keys
    from aks_gpu.config.settings import parse_settings

    integer_keys = [k for k, spec in declared_keys().items() if spec.get("type") == "integer"]
    assert integer_keys
    for key in integer_keys:
        with pytest.raises(SettingsError) as err:
            parse_settings({key: "9" * 5000}, location="eastus", today=date(2026, 12, 1))
        assert any(p.startswith(f"aks-gpu:{key} = ") and "is not allowed" in p for p in err.value.problems)


def test_every_string_key_with_a_default_refuses_an_empty_value() -> None:
    from datetime import date

    from aks_gpu.config.project import declared_keys
    from aks_gpu.config.settings import parse_settings

    keys = [k for k, s in declared_keys().items() if s.get("type") == "string" and s.get("default")]
    assert {"gpuPoolName", "systemVmSize", "gpuNamespace"} <= set(keys)
    for key in keys:
        for empty in ("", "  "):
            with pytest.raises(SettingsError) as err:
                parse_settings({key: empty}, location="eastus", today=date(2026, 12, 1))
            assert any(p.startswith(f"aks-gpu:{key} = ") and "non-empty" in p for p in err.value.problems), key
