"""The acceptance log parser on real H200 logs, and the GPU model facts.

The in-pod package's own parts are in test_acceptance_package.py; its CPU run in test_acceptance_cpu_run.py.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import pytest

from aks_gpu.facts import gpu_models
from aks_gpu.facts.azure import MIG_PROFILES
from aks_gpu.facts.gpu_models import GPU_MODELS, find_gpu_model
from aks_gpu.verifier.acceptance import acceptance_failures, format_acceptance_failures, parse_acceptance_log
from aks_gpu.workloads.gpu_acceptance.spec import DTYPES

DATA = Path(__file__).resolve().parent.parent / "data"
PASS_LOG = (DATA / "h200_acceptance.log").read_text(encoding="utf-8")
FAIL_LOG = (DATA / "h200_acceptance_fail.log").read_text(encoding="utf-8")


# --- Parsing real H200 logs -------------------------------------------------------------------------------------


def test_real_h200_passing_log():
    parsed = parse_acceptance_log(PASS_LOG)
    assert parsed["passed"] and parsed["malformed"] == 0 and len(parsed["records"]) == 1
    record = parsed["records"][0]
    assert record["model"] == "NVIDIA H200" and record["node"] == "device-h200" and record["index"] == 0
    assert record["tflops"] == 695.15 and record["expectedTflops"] == 989.0 and record["minFraction"] == 0.7
    assert record["gbps"] == 4242.2 and record["expectedGbps"] == 4800.0
    assert record["accuracy"] == 0.9883 and record["steps"] == 200 and record["memoryGiB"] == 139.8
    assert record["driverVersion"] == "580.159.04" and record["cudaVersion"] == "13.0" and record["reasons"] == []
    assert parsed["summary"] == {
        "node": "device-h200", "devices": 1, "passedDevices": 1, "passed": True, "exitCode": 0, "error": None,
        "checks": [], "reasons": [], "seconds": None, "gpus": None, "concurrent": None,
    }  # fmt: skip
    assert "Accuracy at step 200: 0.9883" in PASS_LOG.splitlines()
    assert acceptance_failures(parsed) == [] and format_acceptance_failures({"device-h200": PASS_LOG}) == ""


def test_real_h200_failing_log():
    parsed = parse_acceptance_log(FAIL_LOG)
    assert not parsed["passed"] and parsed["summary"]["exitCode"] == 1 and parsed["summary"]["passedDevices"] == 0
    record = parsed["records"][0]
    assert record["passed"] is False and record["minFraction"] == 1.5
    assert record["tflops"] == 687.3 and record["gbps"] == 4234.7 and record["accuracy"] == 0.9883
    assert record["reasons"] == [
        "bf16 matmul 687.3 TFLOP/s < 1.5 x 989 = 1483.5 TFLOP/s",
        "memory copy 4234.7 GB/s < 1.5 x 4800 = 7200.0 GB/s",
    ]
    message = format_acceptance_failures({"ignored-name": FAIL_LOG})
    assert message.startswith("GPU acceptance failed (1 problem):")
    for text in ("node device-h200 GPU 0 (NVIDIA H200)", "687.3 TFLOP/s", "989", "4234.7 GB/s", "4800", "0.9883"):
        assert text in message


# --- Parser robustness ------------------------------------------------------------------------------------------


def test_junk_truncation_and_timestamps():
    record_line = next(line for line in PASS_LOG.splitlines() if line.startswith("AKS_GPU_ACCEPTANCE {"))
    summary_line = next(line for line in PASS_LOG.splitlines() if line.startswith("AKS_GPU_ACCEPTANCE_SUMMARY"))
    text = "\r\n".join(
        [
            "junk \x00\xff line",
            record_line[:60],  # cut short
            "AKS_GPU_ACCEPTANCE [1, 2]",  # not an object
            "XAKS_GPU_ACCEPTANCE {}",  # marker inside a word
            "2026-12-02T02:40:52.123Z " + record_line,  # kubectl logs --timestamps
            summary_line,
            "AKS_GPU_ACCEPTANCE_SUMMARY {",  # a later, broken summary leaves the good one in place
        ]
    )
    parsed = parse_acceptance_log(text)
    assert len(parsed["records"]) == 1 and parsed["records"][0]["tflops"] == 695.15
    assert parsed["malformed"] == 4 and parsed["passed"] is True
    cut = parse_acceptance_log(PASS_LOG.split("AKS_GPU_ACCEPTANCE_SUMMARY")[0])
    assert cut["summary"] is None and not cut["passed"]
    assert "no AKS_GPU_ACCEPTANCE_SUMMARY line" in acceptance_failures(cut, "aks-gpu-7")[0]
    assert "node aks-gpu-7" in acceptance_failures(cut, "aks-gpu-7")[0]


def test_non_finite_and_wrongly_typed_values():
    line = (
        'AKS_GPU_ACCEPTANCE {"node": 5, "index": 1.5, "tflops": NaN, "gbps": Infinity, "accuracy": -Infinity,'
        ' "expectedTflops": true, "memoryGiB": 1' + "0" * 400 + ', "passed": true, "reasons": "not a list",'
        ' "steps": "200"}'
    )
    record = parse_acceptance_log(line + "\nAKS_GPU_ACCEPTANCE_SUMMARY {}")["records"][0]
    assert record["tflops"] is None and record["gbps"] is None and record["accuracy"] is None
    assert record["expectedTflops"] is None and record["memoryGiB"] is None
    assert record["node"] is None and record["index"] is None and record["steps"] is None
    assert record["reasons"] == [] and record["passed"] is True
    liar = parse_acceptance_log('AKS_GPU_ACCEPTANCE {"passed": true, "reasons": ["slow"]}')["records"][0]
    assert liar["passed"] is False


def test_summary_error_and_unknown_inputs():
    log = 'AKS_GPU_ACCEPTANCE_SUMMARY {"node": "n2", "devices": 0, "passed": false, "exitCode": 2,'
    log += ' "error": "no GPU visible"}'
    parsed = parse_acceptance_log(log.encode())
    assert parsed["summary"]["error"] == "no GPU visible" and not parsed["passed"]
    assert acceptance_failures(parsed) == ["node n2: the acceptance test could not run: no GPU visible"]
    for value in (None, 42, "", b"\xff\xfe", ["AKS_GPU_ACCEPTANCE {}"]):
        assert parse_acceptance_log(value) == {"records": [], "summary": None, "malformed": 0, "passed": False}
    assert format_acceptance_failures([("n3", "")]).endswith(
        "no AKS_GPU_ACCEPTANCE_SUMMARY line (the test did not finish, or the log is cut)"
    )


def test_parser_never_raises_on_garbage():
    rng = random.Random(7)
    pieces = ["AKS_GPU_ACCEPTANCE ", "AKS_GPU_ACCEPTANCE_SUMMARY ", "{", "}", '"', "[", "NaN", "1e999", ",", ":", "\n"]
    pieces += ['"passed"', "true", '"reasons"', "null", "\u2028", " ", "-", "9" * 5000]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        parsed = parse_acceptance_log(text)
        assert isinstance(format_acceptance_failures({"n": parsed}), str)
        for record in parsed["records"]:
            assert all(v is None or math.isfinite(v) for k, v in record.items() if k in ("tflops", "gbps"))


# --- GPU model facts --------------------------------------------------------------------------------------------


def test_mig_profiles_follow_nvidia_and_aks():
    h200 = GPU_MODELS["NVIDIA H200"]
    assert MIG_PROFILES == ("MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g")
    assert [h200.mig_profiles[p].slice for p in MIG_PROFILES] == [
        "1g.18gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb",
    ]  # fmt: skip
    assert [h200.mig_profiles[p].instances_per_gpu for p in MIG_PROFILES] == [7, 3, 2, 1, 1]
    mig3 = h200.mig_profiles["MIG3g"]
    assert (mig3.compute_fraction, mig3.memory_fraction) == (Fraction(3, 7), Fraction(4, 8))
    assert mig3.resource == "nvidia.com/mig-3g.71gb"
    assert h200.per_device() == (989.5, 4800.0)
    assert h200.per_device("MIG1g") == pytest.approx((989.5 / 7, 600.0))
    assert GPU_MODELS["NVIDIA A100-SXM4-40GB"].mig_profiles["MIG1g"].slice == "1g.5gb"
    assert GPU_MODELS["NVIDIA H100 NVL"].mig_profiles["MIG7g"].slice == "7g.94gb"
    assert not GPU_MODELS["Tesla T4"].mig_capable
    with pytest.raises(KeyError):
        GPU_MODELS["Tesla T4"].per_device("MIG1g")


def test_every_model_is_documented_and_sane():
    for model in GPU_MODELS.values():
        assert model.tensor_dtype in DTYPES and model.sources
        assert model.dense_tflops > 0 and model.memory_bandwidth_gbps > 0 and model.memory_gib > 0
        assert (model.tensor_dtype == "bf16") == (model.compute_capability >= (8, 0))
        assert find_gpu_model(model.name) is model
        for alias in model.aliases:
            assert find_gpu_model(alias) is model


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("Tesla T4", "Tesla T4"),
        ("NVIDIA T4 16 GB", "Tesla T4"),
        ("nvidia a100 80gb pcie", "NVIDIA A100 80GB PCIe"),
        ("NVIDIA A100 80 GB PCIe", "NVIDIA A100 80GB PCIe"),
        ("NVIDIA A100-SXM4-80GB MIG 1g.10gb", "NVIDIA A100-SXM4-80GB"),
        ("NVIDIA H100 NVL 94 GB", "NVIDIA H100 NVL"),
        ("NVIDIA H200 MIG 7g.141gb", "NVIDIA H200"),
        ("NVIDIA A10-24Q", "NVIDIA A10"),
        ("NVIDIA K80 (half board)", "Tesla K80"),
        ("NVIDIA H200 NVL", None),
        ("NVIDIA A100", None),
        ("", None),
        (None, None),
    ],
)
def test_find_gpu_model(name, model):
    found = find_gpu_model(name)
    assert (found.name if found else None) == model


def test_the_facts_module_imports_only_the_standard_library():
    source = Path(gpu_models.__file__).read_text(encoding="utf-8")
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "dataclasses", "re", "collections", "fractions", "types"}
