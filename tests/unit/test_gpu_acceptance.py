"""The GPU acceptance script's pure parts, the log parser on real H200 logs, and the GPU model facts.

These run in CI without a GPU. The torch tests run the training and the measurements on the CPU with tiny sizes
and skip when torch is not installed.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from aks_gpu.facts import gpu_models
from aks_gpu.facts.azure import MIG_PROFILES
from aks_gpu.facts.gpu_models import GPU_MODELS, find_gpu_model
from aks_gpu.verifier import acceptance
from aks_gpu.verifier.acceptance import acceptance_failures, format_acceptance_failures, parse_acceptance_log
from aks_gpu.workloads import gpu_acceptance as script
from aks_gpu.workloads.gpu_acceptance import Expectation, ExpectationError

DATA = Path(__file__).resolve().parent.parent / "data"
PASS_LOG = (DATA / "h200_acceptance.log").read_text(encoding="utf-8")
FAIL_LOG = (DATA / "h200_acceptance_fail.log").read_text(encoding="utf-8")
RECORD_KEYS = {
    "node", "index", "uuid", "model", "memoryGiB", "driverVersion", "cudaVersion", "dtype", "tflops",
    "expectedTflops", "gbps", "expectedGbps", "minFraction", "accuracy", "targetAccuracy", "steps", "passed",
    "reasons",
}  # fmt: skip
GOOD = {"model": "NVIDIA H200", "tflops": 700.0, "gbps": 4200.0, "accuracy": 0.99, "maxRelError": 0.002}

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install torch for these tests)")


@pytest.fixture
def one_thread():
    """Tiny CPU work runs fastest on one thread, above all on a busy CI machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def expectation(**changes) -> Expectation:
    return Expectation(**{"tflops": 100.0, "gbps": 1000.0, "min_fraction": 0.5, "model": "NVIDIA H200", **changes})


# --- Expectation ------------------------------------------------------------------------------------------------


def test_expectation_full_and_defaults():
    text = '{"model": " NVIDIA H200 ", "dtype": "fp16", "tflops": 989, "gbps": 4800, "minFraction": 0.6,'
    text += ' "targetAccuracy": 0.9, "steps": 50}'
    assert script.parse_expectation(text) == Expectation(989.0, 4800.0, "fp16", "NVIDIA H200", 0.6, 0.9, 50)
    assert script.parse_expectation('{"tflops": 65, "gbps": 320}') == Expectation(
        65.0, 320.0, "bf16", None, script.DEFAULT_MIN_FRACTION, script.DEFAULT_TARGET_ACCURACY, script.DEFAULT_STEPS
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "is not set"),
        ("  ", "is not set"),
        ("{", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"gbps": 1}', "tflops must be a number"),
        ('{"tflops": 1}', "gbps must be a number"),
        ('{"tflops": true, "gbps": 1}', "tflops must be a number"),
        ('{"tflops": "989", "gbps": 1}', "tflops must be a number"),
        ('{"tflops": NaN, "gbps": 1}', "tflops must be a number"),
        ('{"tflops": 1, "gbps": -5}', "gbps must be a number"),
        ('{"tflops": 1, "gbps": Infinity}', "gbps must be a number"),
        ('{"tflops": 1, "gbps": 1, "minFraction": 0}', "minFraction must be a number"),
        ('{"tflops": 1, "gbps": 1, "targetAccuracy": 1.01}', "targetAccuracy must be a number"),
        ('{"tflops": 1, "gbps": 1, "dtype": "int8"}', "dtype must be one of bf16, fp16, fp32"),
        ('{"tflops": 1, "gbps": 1, "model": ""}', "model must be a non-empty string"),
        ('{"tflops": 1, "gbps": 1, "model": 4}', "model must be a non-empty string"),
        ('{"tflops": 1, "gbps": 1, "steps": 9}', "steps must be an integer"),
        ('{"tflops": 1, "gbps": 1, "steps": 20.5}', "steps must be an integer"),
    ],
)
def test_bad_expectations_are_named(text, message):
    with pytest.raises(ExpectationError, match=message):
        script.parse_expectation(text)


# --- Devices ----------------------------------------------------------------------------------------------------

SMI_MIG = """GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 1g.10gb     Device  0: (UUID: MIG-c7384736-a75d-5afc-978f-d2f8294ba7a4)
  MIG 1g.10gb     Device  1: (UUID: MIG-a28ad590-3fda-56dd-84fc-0a0b96edc58d)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-11111111-2222-3333-4444-555555555555)
GPU 2: NVIDIA A100-SXM4-80GB (UUID: GPU-66666666-2222-3333-4444-555555555555)
  MIG 3g.40gb     Device  0: (UUID: MIG-77777777-2222-3333-4444-555555555555)
"""


def test_nvidia_smi_list_gives_mig_instances_in_place_of_their_gpu():
    assert script.parse_nvidia_smi_list(SMI_MIG) == [
        "MIG-c7384736-a75d-5afc-978f-d2f8294ba7a4",
        "MIG-a28ad590-3fda-56dd-84fc-0a0b96edc58d",
        "GPU-11111111-2222-3333-4444-555555555555",
        "MIG-77777777-2222-3333-4444-555555555555",
    ]
    assert script.parse_nvidia_smi_list("GPU 0: NVIDIA H200 (UUID: GPU-93127c69-b820-3158-a247-0e24fd368d68)\n") == [
        "GPU-93127c69-b820-3158-a247-0e24fd368d68"
    ]
    assert script.parse_nvidia_smi_list("No devices were found\n") == []


def _no_torch() -> int:
    raise AssertionError("torch must not be asked")


@pytest.mark.parametrize(
    ("visible", "tokens"),
    [
        ("GPU-a, GPU-b,", ["GPU-a", "GPU-b"]),
        ("MIG-x", ["MIG-x"]),
        ("0,1", ["0", "1"]),
    ],
)
def test_device_plugin_uuids_come_first(visible, tokens):
    assert script.device_tokens({"NVIDIA_VISIBLE_DEVICES": visible}, lambda: SMI_MIG, _no_torch) == tokens


@pytest.mark.parametrize("visible", [None, "", "all", "ALL", "void", "none"])
def test_nvidia_smi_when_the_plugin_names_no_devices(visible):
    env = {} if visible is None else {"NVIDIA_VISIBLE_DEVICES": visible}
    assert script.device_tokens(env, lambda: SMI_MIG, _no_torch)[0].startswith("MIG-c738")


def test_torch_indices_when_nvidia_smi_fails_or_lists_nothing():
    def missing() -> str:
        raise FileNotFoundError("nvidia-smi")

    def failing() -> str:
        raise subprocess.CalledProcessError(9, "nvidia-smi")

    assert script.device_tokens({}, missing, lambda: 2) == ["0", "1"]
    assert script.device_tokens({"NVIDIA_VISIBLE_DEVICES": "all"}, failing, lambda: 1) == ["0"]
    assert script.device_tokens({}, lambda: "", lambda: 0) == []


# --- Judging ----------------------------------------------------------------------------------------------------


def test_rates_just_above_and_below_the_threshold():
    exp = expectation()  # floors: 50 TFLOP/s and 500 GB/s
    assert script.judge({**GOOD, "tflops": 50.0, "gbps": 500.0}, exp) == []
    assert script.judge({**GOOD, "tflops": 49.99, "gbps": 500.0}, exp) == [
        "bf16 matmul 50.0 TFLOP/s < 0.5 x 100 = 50.0 TFLOP/s"
    ]
    assert script.judge({**GOOD, "tflops": 50.0, "gbps": 499.9}, exp) == [
        "memory copy 499.9 GB/s < 0.5 x 1000 = 500.0 GB/s"
    ]
    assert len(script.judge({**GOOD, "tflops": 1.0, "gbps": 1.0}, exp)) == 2


def test_accuracy_precision_model_and_errors():
    exp = expectation(target_accuracy=0.95)
    assert script.judge({**GOOD, "accuracy": 0.95}, exp) == []
    assert script.judge({**GOOD, "accuracy": 0.9499}, exp) == ["training accuracy 0.9499 < target 0.95"]
    assert script.judge({**GOOD, "maxRelError": 0.2}, exp) == ["matmul result wrong: relative error 0.2 > 0.05"]
    assert script.judge({**GOOD, "model": "NVIDIA H200 MIG 1g.18gb"}, exp) == []
    assert script.judge({**GOOD, "model": "NVIDIA H100 80GB HBM3"}, exp) == [
        "model 'NVIDIA H100 80GB HBM3' is not the expected 'NVIDIA H200'"
    ]
    assert script.judge({**GOOD, "model": "NVIDIA H100 80GB HBM3"}, expectation(model=None)) == []
    assert script.judge({"error": "RuntimeError: CUDA error"}, exp) == ["measurement failed: RuntimeError: CUDA error"]
    assert "bf16 matmul not measured" in script.judge({**GOOD, "tflops": float("nan")}, exp)[0]


@pytest.mark.parametrize(
    ("expected", "actual", "match"),
    [
        ("NVIDIA H200", "NVIDIA H200", True),
        ("NVIDIA H200", "nvidia  h200", True),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB MIG 1g.10gb", True),
        ("Tesla T4", "NVIDIA T4", True),
        ("NVIDIA A10", "NVIDIA A10-24Q", True),
        ("NVIDIA A10", "NVIDIA A100 80GB PCIe", False),
        ("NVIDIA H200", "NVIDIA H20", False),
        ("NVIDIA H200", None, False),
    ],
)
def test_model_names(expected, actual, match):
    assert script.model_matches(expected, actual) is match


# --- Output -----------------------------------------------------------------------------------------------------


def test_record_line_format():
    measured = {**GOOD, "memoryGiB": 139.8, "driverVersion": "580.159.04", "cudaVersion": "13.0", "matrixSize": 8192}
    record = script.build_record("aks-gpu-0", 3, "MIG-abc", {**measured, "accuracy": float("nan")}, expectation())
    line = script.format_line(script.RECORD_MARKER, record)
    assert line.startswith("AKS_GPU_ACCEPTANCE {") and "\n" not in line and "NaN" not in line
    data = json.loads(line.split(" ", 1)[1])
    assert RECORD_KEYS <= set(data)
    assert data["node"] == "aks-gpu-0" and data["index"] == 3 and data["uuid"] == "MIG-abc"
    assert data["tflops"] == 700.0 and data["expectedTflops"] == 100.0 and data["minFraction"] == 0.5
    assert data["accuracy"] is None and data["passed"] is False and data["reasons"]
    assert script.build_record(None, 0, "0", measured, expectation())["uuid"] is None
    assert script.build_record(None, 0, "GPU-x", measured, expectation())["passed"] is True


def test_exit_codes():
    assert script.exit_code([]) == script.EXIT_NOT_RUN == 2
    assert script.exit_code([{"passed": True}, {"passed": True}]) == script.EXIT_PASSED == 0
    assert script.exit_code([{"passed": True}, {"passed": False}]) == script.EXIT_FAILED == 1


def _main(monkeypatch, capsys, env: dict[str, str], measured: list[dict]) -> tuple[int, dict]:
    for name in ("NODE_NAME", "NVIDIA_VISIBLE_DEVICES", script.EXPECTATION_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    results = iter(measured)
    monkeypatch.setattr(script, "run_child", lambda token, timeout: next(results))
    monkeypatch.setattr(script, "driver_version", lambda: "580.159.04")
    monkeypatch.setattr(script, "_run", lambda command: "")
    monkeypatch.setattr(script, "_torch_count", lambda: 0)
    code = script.main([])
    return code, parse_acceptance_log(capsys.readouterr().out)


def test_main_passes_fails_and_cannot_run(monkeypatch, capsys):
    env = {"NODE_NAME": "n1", "NVIDIA_VISIBLE_DEVICES": "GPU-a,GPU-b"}
    env[script.EXPECTATION_ENV] = '{"tflops": 100, "gbps": 1000, "model": "NVIDIA H200"}'
    code, parsed = _main(monkeypatch, capsys, env, [GOOD, GOOD])
    assert code == 0 and parsed["passed"] and [r["uuid"] for r in parsed["records"]] == ["GPU-a", "GPU-b"]
    assert parsed["records"][0]["driverVersion"] == "580.159.04" and parsed["summary"]["passedDevices"] == 2
    code, parsed = _main(monkeypatch, capsys, env, [GOOD, {"error": "the measuring process exited with code 1"}])
    assert code == 1 and not parsed["passed"] and parsed["summary"]["exitCode"] == 1
    assert parsed["records"][1]["reasons"] == ["measurement failed: the measuring process exited with code 1"]
    code, parsed = _main(monkeypatch, capsys, {**env, script.EXPECTATION_ENV: "{"}, [])
    assert code == 2 and "bad expectation" in parsed["summary"]["error"] and parsed["records"] == []
    code, parsed = _main(monkeypatch, capsys, {k: v for k, v in env.items() if k != "NVIDIA_VISIBLE_DEVICES"}, [])
    assert code == 2 and parsed["summary"]["error"] == "no GPU visible"


def test_the_script_imports_no_torch_and_the_verifier_shares_its_markers():
    code = "import sys, aks_gpu.workloads.gpu_acceptance, aks_gpu.verifier.acceptance; print(sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'torch'" not in modules and "'pulumi'" not in modules
    assert acceptance.RECORD_MARKER is script.RECORD_MARKER and acceptance.SUMMARY_MARKER is script.SUMMARY_MARKER


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


# --- Measurements on the CPU ------------------------------------------------------------------------------------


def test_matrix_size_fits_free_memory():
    assert script.matrix_size(140 * 2**30, 2) == 8192
    assert script.matrix_size(3 * 8192 * 8192 * 2 * 4, 2) == 8192
    assert script.matrix_size(3 * 8192 * 8192 * 2 * 4 - 1, 2) == 4096
    assert script.matrix_size(0, 4) == 256


@needs_torch
@pytest.mark.usefixtures("one_thread")
def test_training_learns_and_prints_accuracy_lines():
    lines: list[str] = []
    accuracy = script.train_classifier(torch, "cpu", 25, seed=3, log=lines.append)
    assert accuracy >= 0.95
    assert lines[0].startswith("Accuracy at step 0: ") and float(lines[0].rsplit(" ", 1)[1]) < 0.5
    assert [line.split(":")[0] for line in lines] == [f"Accuracy at step {step}" for step in (0, 10, 20, 25)]
    assert lines[-1] == f"Accuracy at step 25: {accuracy:.4f}"
    assert script.train_classifier(torch, "cpu", 25, seed=3, log=lambda line: None) == accuracy


@needs_torch
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("dtype", "limit"), [("fp32", 1e-5), ("bf16", 0.05)])
def test_matmul_rate_and_error_on_cpu(dtype, limit):
    tflops, error = script.measure_matmul(torch, "cpu", dtype, 64, samples=3)
    assert 0 < tflops < 100 and 0 <= error < limit


@needs_torch
@pytest.mark.usefixtures("one_thread")
def test_copy_rate_on_cpu():
    assert 0 < script.measure_copy(torch, "cpu", 1 << 20, samples=3) < 1e5


def test_median_ms_warms_up_then_times_each_sample():
    calls = []
    assert script._median_ms(None, "cpu", lambda: calls.append(1), 5) >= 0
    assert len(calls) == 3 + 5


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
        assert model.tensor_dtype in script.DTYPES and model.sources
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
