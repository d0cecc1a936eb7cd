"""The in-pod acceptance package's pure parts: expectation, devices, nvidia-smi health signals, judging, report.

Real nvidia-smi output comes from the device tool's H200 (tests/data/h200_nvidia_smi_probe.txt, driver
580.159.04); the rest is synthetic. No GPU and no torch needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aks_gpu.verifier import acceptance
from aks_gpu.verifier.acceptance import parse_acceptance_log
from aks_gpu.workloads import gpu_acceptance as package
from aks_gpu.workloads.gpu_acceptance import devices, health, judge, node, report, spec
from aks_gpu.workloads.gpu_acceptance.multi import bus_bandwidth
from aks_gpu.workloads.gpu_acceptance.spec import CheckSpec, Expectation, ExpectationError

DATA = Path(__file__).resolve().parent.parent / "data"
PROBE = (DATA / "h200_nvidia_smi_probe.txt").read_text(encoding="utf-8")
GOOD = {"model": "NVIDIA H200", "matmul": 672.0, "copy": 4250.0, "h2d": 55.3, "d2h": 55.3, "accuracy": 0.99}
GOOD["maxRelError"] = 0.002
H200 = Expectation(
    checks={
        "matmul": CheckSpec(607.5, "measured", "H200 runs", 675.0),
        "copy": CheckSpec(3825.0, "measured", "H200 runs", 4250.0),
        "h2d": CheckSpec(48.0, "aznhc", "conf"),
        "d2h": CheckSpec(48.0, "aznhc", "conf"),
        "p2p": CheckSpec(335.0, "aznhc", "conf"),
        "allreduce": CheckSpec(431.0, "aznhc", "conf"),
    },
    model="NVIDIA H200",
    gpus=8,
    devices=8,
    nvlink=True,
)


def probe_output(command: str) -> str:
    """The output the probe recorded for `command` (the lines after its `[rc=0]` line)."""
    block = PROBE.split(f"$ {command}\n", 1)[1]
    return block.split("\n", 1)[1].split("\n\n", 1)[0] + "\n"


# --- Expectation ------------------------------------------------------------------------------------------------


def test_expectation_with_checks_and_defaults():
    text = json.dumps(
        {
            "model": " NVIDIA H200 ",
            "gpus": 8,
            "devices": 8,
            "nvlink": True,
            "allreduceBytes": 1 << 34,
            "checks": {"matmul": {"floor": 607.5, "reference": 675, "basis": "measured", "source": "s"}},
        }
    )
    parsed = spec.parse_expectation(text)
    assert parsed.model == "NVIDIA H200" and parsed.gpus == 8 and parsed.nvlink and parsed.allreduce_bytes == 1 << 34
    assert parsed.check("matmul") == CheckSpec(607.5, "measured", "s", 675.0) and parsed.check("matmul").calibrated
    assert parsed.check("copy") == CheckSpec(None) and not parsed.check("copy").calibrated
    assert (parsed.outlier_margin, parsed.target_accuracy, parsed.steps) == (0.92, 0.95, 200)


def test_the_older_datasheet_form_still_reads():
    parsed = spec.parse_expectation('{"tflops": 989.5, "gbps": 4800, "minFraction": 0.5, "model": "NVIDIA H200"}')
    assert parsed.check("matmul") == CheckSpec(494.75, "datasheet", "0.5 x datasheet", 989.5)
    assert not parsed.check("copy").calibrated and parsed.check("copy").floor == 2400.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "is not set"),
        ("{", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"gbps": 1}', "tflops must be a number"),
        ('{"checks": []}', "checks must be a JSON object"),
        ('{"checks": {"speed": {}}}', "unknown names speed; allowed: matmul, copy"),
        ('{"checks": {"matmul": 5}}', "checks.matmul must be a JSON object"),
        ('{"checks": {"matmul": {"floor": -1}}}', "checks.matmul.floor must be a positive number or null"),
        ('{"checks": {"matmul": {"floor": NaN}}}', "checks.matmul.floor must be a positive number or null"),
        ('{"checks": {"copy": {"basis": "guess"}}}', "checks.copy.basis must be one of measured"),
        ('{"checks": {}, "dtype": "int8"}', "dtype must be one of bf16, fp16, fp32"),
        ('{"checks": {}, "gpus": 0}', "gpus must be an integer from 1 to 64"),
        ('{"checks": {}, "nvlink": "yes"}', "nvlink must be true or false"),
        ('{"checks": {}, "steps": 9}', "steps must be an integer from 10"),
        ('{"checks": {}, "outlierMargin": 1.5}', "outlierMargin must be a number in"),
    ],
)
def test_bad_expectations_are_named(text, message):
    with pytest.raises(ExpectationError, match=message):
        spec.parse_expectation(text)


# --- Devices ----------------------------------------------------------------------------------------------------

SMI_MIG = """GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 1g.10gb     Device  0: (UUID: MIG-c7384736-a75d-5afc-978f-d2f8294ba7a4)
  MIG 1g.10gb     Device  1: (UUID: MIG-a28ad590-3fda-56dd-84fc-0a0b96edc58d)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-11111111-2222-3333-4444-555555555555)
"""


def test_mig_instances_take_their_gpus_place_and_know_their_parent():
    tokens, parents = devices.parse_nvidia_smi_list(SMI_MIG)
    assert tokens == [
        "MIG-c7384736-a75d-5afc-978f-d2f8294ba7a4",
        "MIG-a28ad590-3fda-56dd-84fc-0a0b96edc58d",
        "GPU-11111111-2222-3333-4444-555555555555",
    ]
    assert parents["MIG-a28ad590-3fda-56dd-84fc-0a0b96edc58d"] == "GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f"


@pytest.mark.parametrize(
    ("env", "listing", "count", "tokens"),
    [
        ({"NVIDIA_VISIBLE_DEVICES": "GPU-a, GPU-b,"}, SMI_MIG, 0, ["GPU-a", "GPU-b"]),
        ({"NVIDIA_VISIBLE_DEVICES": "all"}, SMI_MIG, 0, devices.parse_nvidia_smi_list(SMI_MIG)[0]),
        ({}, "", 2, ["0", "1"]),
        ({"NVIDIA_VISIBLE_DEVICES": "void"}, "No devices were found\n", 0, []),
    ],
)
def test_device_tokens(env, listing, count, tokens):
    assert devices.device_tokens(env, listing, lambda: count) == tokens


# --- Health signals on the H200's real nvidia-smi output ----------------------------------------------------------


def test_the_h200s_state_shows_no_problem():
    fields = [f for f in health.STATE_FIELDS if f not in ("memory.used", "utilization.gpu")]
    values = [probe_output(f"nvidia-smi --query-gpu={f} --format=csv,noheader,nounits").strip() for f in fields]
    [row] = health.parse_query(", ".join(values) + "\n", fields)
    assert row["ecc.mode.current"] == "Enabled" and row["retired_pages.pending"] is None
    assert row["pcie.link.gen.max"] == 5.0 and row["pcie.link.width.max"] == 16.0
    assert health.problems_before(row, apps=0, mig=False) == []


def test_the_h200s_samples_under_load_show_the_power_cap_only():
    fields = ("index", "clocks_event_reasons.active", "pcie.link.gen.gpucurrent", "pcie.link.width.current")
    fields += ("clocks.sm", "power.draw", "temperature.gpu", "utilization.gpu")
    command = f"nvidia-smi --query-gpu={','.join(fields)} --format=csv,noheader,nounits"
    seen = health.LoadSeen()
    for block in PROBE.split(f"$ {command}\n")[1:]:
        for row in health.parse_query(block.split("\n", 1)[1].split("\n\n")[0], fields):
            seen.add(row)
    assert seen.samples == 5 and seen.reasons == 0x4 and (seen.pcie_gen, seen.pcie_width) == (5.0, 16.0)
    assert seen.power_w == 692.57 and sorted(seen.sm_mhz) == [1245.0, 1470.0, 1500.0]
    state = {"pcie.link.gen.max": 5.0, "pcie.link.width.max": 16.0}
    assert health.problems_under_load(seen, state) == []


STATE = {"index": 0.0, "uuid": "GPU-a", "ecc.mode.current": "Enabled", "ecc.errors.uncorrected.volatile.total": 0.0}
STATE.update({"remapped_rows.pending": "No", "remapped_rows.failure": "No", "retired_pages.pending": None})
STATE.update({"pcie.link.gen.max": 5.0, "pcie.link.width.max": 16.0, "memory.used": 0.0, "utilization.gpu": 0.0})


@pytest.mark.parametrize(
    ("change", "apps", "problem"),
    [
        ({"ecc.mode.current": "Disabled"}, 0, "ECC is disabled"),
        ({"ecc.errors.uncorrected.volatile.total": 3.0}, 0, "3 volatile uncorrectable ECC errors"),
        ({"remapped_rows.pending": "Yes"}, 0, "a row remapping is pending"),
        ({"remapped_rows.failure": "Yes"}, 0, "row remapping failed"),
        ({"retired_pages.pending": "Yes"}, 0, "a page retirement is pending"),
        ({"utilization.gpu": 100.0}, 0, "another process uses the GPU before the test (0 process(es), 0 MiB"),
        ({"memory.used": 30000.0}, 0, "another process uses the GPU before the test (0 process(es), 30000 MiB"),
        ({}, 1, "another process uses the GPU before the test (1 process(es)"),
    ],
)
def test_each_state_signal_is_named(change, apps, problem):
    found = health.problems_before({**STATE, **change}, apps=apps, mig=False)
    assert len(found) == 1 and found[0].startswith(problem)
    assert health.problems_before(STATE, apps=0, mig=False) == []


def test_on_mig_other_instances_may_be_busy():
    assert health.problems_before({**STATE, "utilization.gpu": 100.0, "memory.used": 9e4}, apps=3, mig=True) == []
    assert health.problems_before({**STATE, "remapped_rows.failure": "Yes"}, apps=0, mig=True)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"clocks_event_reasons.active": 0x8}, "clock event reasons during the load: hardware slowdown (0x8)"),
        (
            {"clocks_event_reasons.active": 0x44},
            "clock event reasons during the load: hardware thermal slowdown (0x40)",
        ),
        ({"clocks_event_reasons.active": 0xA0}, "software thermal slowdown (0x20), hardware power brake (0x80)"),
        ({"pcie.link.gen.gpucurrent": 4.0}, "PCIe link generation 4 under load, below its maximum 5"),
        ({"pcie.link.width.current": 8.0}, "PCIe link width 8 under load, below its maximum 16"),
    ],
)
def test_each_load_signal_is_named(row, problem):
    seen = health.LoadSeen()
    width = row.get("pcie.link.width.current", 16.0)  # a link trained narrow stays narrow; an idle one drops its gen
    seen.add({"clocks_event_reasons.active": 0x1, "pcie.link.gen.gpucurrent": 1.0, "pcie.link.width.current": width})
    seen.add(
        {"clocks_event_reasons.active": 0x4, "pcie.link.gen.gpucurrent": 5.0, "pcie.link.width.current": 16.0, **row}
    )
    [found] = health.problems_under_load(seen, STATE)
    assert problem in found
    assert health.problems_under_load(health.LoadSeen(), STATE) == []  # no sample, no verdict


NVLINK = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)
\t Link 0: 26.562 GB/s
\t Link 1: 26.562 GB/s
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)
\t Link 0: 26.562 GB/s
\t Link 1: <inactive>
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-cccc)
\t NVML: Unable to retrieve NVLink information as all links are inActive
"""


def test_nvlink_links_down_or_missing_are_named():
    links = health.parse_nvlink_status(NVLINK)
    assert links[0] == {0: True, 1: True} and links[1] == {0: True, 1: False}
    assert health.problems_nvlink(links, 0, required=True) == []
    assert health.problems_nvlink(links, 1, required=True) == ["NVLink links inactive: 1"]
    assert health.problems_nvlink(links, 2, required=False) == ["NVLink links inactive: all"]
    empty = health.parse_nvlink_status(probe_output("nvidia-smi nvlink --status"))  # the 1-GPU H200 lists none
    assert empty == {} and health.problems_nvlink(empty, 0, required=False) == []
    assert health.problems_nvlink(empty, 0, required=True) == ["no NVLink links reported on an NVLink size"]


def test_compute_apps_and_older_field_names():
    assert health.parse_compute_apps("GPU-a, 12\nGPU-a, 13\nGPU-b, 9\n\n") == {"GPU-a": 2, "GPU-b": 1}
    asked: list[list[str]] = []

    def old_driver(command):
        asked.append(list(command))
        if "clocks_event_reasons.active" in command[1]:
            raise subprocess.CalledProcessError(2, command)
        return "0, 0x0000000000000004, 3\n"

    rows = health.query(old_driver, ("index", "clocks_event_reasons.active", "pcie.link.gen.gpucurrent"))
    assert rows == [{"index": 0.0, "clocks_event_reasons.active": 4.0, "pcie.link.gen.gpucurrent": 3.0}]
    assert "clocks_throttle_reasons.active" in asked[1][1] and "pcie.link.gen.current" in asked[1][1]


def test_gpu_of_maps_uuids_mig_instances_and_indices():
    states = [{"index": 0.0, "uuid": "GPU-a"}, {"index": 1.0, "uuid": "GPU-b"}]
    assert health.gpu_of("GPU-b", states, {}) == 1
    assert health.gpu_of("MIG-x", states, {"MIG-x": "GPU-a"}) == 0
    assert health.gpu_of("1", states, {}) == 1 and health.gpu_of("GPU-z", states, {}) is None


# --- Judging ----------------------------------------------------------------------------------------------------


def statuses(measured, exp=H200):
    return {check["name"]: check["status"] for check in judge.device_checks(measured, exp)}


def test_a_healthy_h200_passes_every_check():
    checks = judge.device_checks({**GOOD, "p2p": 380.0}, H200)
    assert {c["name"]: c["status"] for c in checks} == dict.fromkeys(("matmul", "copy", "h2d", "d2h", "p2p"), "pass")
    assert judge.device_reasons(GOOD, H200, checks) == []


def test_a_gpu_15_percent_slow_fails_naming_value_floor_and_source():
    slow = {**GOOD, "matmul": 0.85 * 675.0}
    checks = judge.device_checks(slow, H200)
    assert judge.device_reasons(slow, H200, checks) == ["matmul 573.8 TFLOP/s < floor 607.5 TFLOP/s (measured)"]


def test_uncalibrated_checks_pass_labelled_and_fail_only_below_the_datasheet_share():
    exp = spec.parse_expectation('{"tflops": 125, "gbps": 600, "minFraction": 0.5}')
    assert statuses({**GOOD, "matmul": 70.0, "copy": 500.0}, exp) == {
        "matmul": "uncalibrated", "copy": "uncalibrated", "h2d": "uncalibrated", "d2h": "uncalibrated",
    }  # fmt: skip
    assert statuses({**GOOD, "matmul": 60.0, "copy": 500.0}, exp)["matmul"] == "fail"
    assert "p2p" not in statuses(GOOD)  # one GPU: no GPU-to-GPU figure


def test_other_device_failures():
    exp = H200
    broken = {**GOOD, "accuracy": 0.5, "maxRelError": 0.3, "model": "NVIDIA H100 80GB HBM3"}
    reasons = judge.device_reasons(broken, exp, judge.device_checks(broken, exp))
    assert reasons == [
        "training accuracy 0.5 < target 0.95",
        "matmul result wrong: relative error 0.3 > 0.05",
        "model 'NVIDIA H100 80GB HBM3' is not the expected 'NVIDIA H200'",
    ]
    assert judge.device_reasons({"error": "RuntimeError: x"}, exp, []) == ["measurement failed: RuntimeError: x"]
    assert judge.model_matches("NVIDIA H200", "NVIDIA H200 MIG 1g.18gb")
    assert not judge.model_matches("NVIDIA H200", "NVIDIA H20")


def test_a_gpu_clearly_below_its_nodes_median_fails_naming_both():
    records = [{"index": i, "matmul": 670.0 + i, "copy": 4250.0} for i in range(8)]
    assert judge.outlier_reasons(records, 0.92) == {}
    records[5]["matmul"] = 0.91 * 673.5
    assert judge.outlier_reasons(records, 0.92) == {
        5: ["matmul 612.9 TFLOP/s < 0.92 x the node's median 672.5 TFLOP/s"]
    }
    assert judge.outlier_reasons(records[:1], 0.92) == {}  # one device has no peers


def test_counts_and_node_checks():
    assert judge.count_reasons(H200, 7, 8) == ["nvidia-smi counts 7 GPUs; the VM size has 8"]
    assert judge.count_reasons(H200, 8, 4) == ["the pod sees 4 devices; the pool gives each node 8"]
    assert judge.count_reasons(H200, 8, 8) == [] and judge.node_checks({}, H200) == []
    [check] = judge.node_checks({"allreduce": 400.0}, H200)
    assert check["status"] == "fail" and judge.check_reason(check).startswith("allreduce 400.0 GB/s < floor 431.0")
    assert bus_bandwidth(16 << 30, 0.063, 8) == pytest.approx(16 * 2**30 / 0.063 / 1e9 * 14 / 8)
    assert bus_bandwidth(1 << 30, 0.01, 1) == 0.0


# --- A node's verdicts (node.judge_node) with synthetic nvidia-smi readings ----------------------------------------


def context(**changes):
    read = {"states": [{**STATE, "index": float(i), "uuid": f"GPU-{i}"} for i in range(8)], "apps": {}, "links": {}}
    read.update(error=None, links={i: {0: True, 1: True} for i in range(8)})
    multi = {"pairs": {"perDevice": [380.0] * 8}, "allreduce": 478.0, "allreduceDetail": {"correct": True}}
    base = {"exp": H200, "read": read, "seen": {}, "multi": multi, "parents": {}, "driver": "580.159.04"}
    return {**base, **changes}


TOKENS = [f"GPU-{i}" for i in range(8)]


def test_an_eight_gpu_node_passes():
    records, checks, reasons = node.judge_node("n1", TOKENS, [dict(GOOD) for _ in TOKENS], context())
    assert [r["passed"] for r in records] == [True] * 8 and reasons == [] and checks[0]["status"] == "pass"
    assert records[3]["p2p"] == 380.0 and records[3]["uuid"] == "GPU-3"


def test_each_node_signal_fails_the_right_gpu_or_the_node():
    ctx = context()
    ctx["read"]["states"][2]["remapped_rows.failure"] = "Yes"
    ctx["read"]["links"][6] = {0: True, 1: False}
    ctx["multi"] = {"pairs": {"perDevice": [380.0] * 8}, "allreduce": 300.0, "allreduceDetail": {"correct": False}}
    measured = [dict(GOOD) for _ in TOKENS]
    measured[4]["copy"] = 3000.0
    records, _, reasons = node.judge_node("n1", TOKENS, measured, ctx)
    failed = {r["index"]: r["reasons"] for r in records if not r["passed"]}
    assert set(failed) == {2, 4, 6}
    assert failed[2] == ["row remapping failed (the memory cannot be repaired)"]
    assert failed[4][0].startswith("copy 3000.0 GB/s < floor 3825.0 GB/s")
    assert failed[4][1] == "copy 3000.0 GB/s < 0.92 x the node's median 4250.0 GB/s"
    assert failed[6] == ["NVLink links inactive: 1"]
    assert (
        reasons[0].startswith("allreduce 300.0 GB/s < floor 431.0") and reasons[1] == "the all-reduce gave a wrong sum"
    )


def test_a_missing_gpu_and_unreadable_nvidia_smi_fail_the_node():
    ctx = context()
    ctx["read"]["states"] = ctx["read"]["states"][:7]
    _, _, reasons = node.judge_node("n1", TOKENS[:7], [dict(GOOD)] * 7, ctx)
    assert "nvidia-smi counts 7 GPUs; the VM size has 8" in reasons
    assert "the pod sees 7 devices; the pool gives each node 8" in reasons
    ctx = context(read={"states": [], "apps": {}, "links": {}, "error": "FileNotFoundError: nvidia-smi"})
    _, _, reasons = node.judge_node("n1", TOKENS, [dict(GOOD)] * 8, ctx)
    assert "nvidia-smi could not be read: FileNotFoundError: nvidia-smi" in reasons


def test_p2p_is_judged_only_where_nvlink_is_up():
    exp = Expectation(checks=H200.checks, nvlink=False)
    ctx = context(exp=exp, multi={"pairs": {"perDevice": [20.0, 20.0]}})
    ctx["read"]["links"] = {}
    records, _, _ = node.judge_node("n1", ["GPU-0", "GPU-1"], [dict(GOOD)] * 2, ctx)
    [p2p] = [c for c in records[0]["checks"] if c["name"] == "p2p"]
    assert p2p["status"] == "uncalibrated" and "NVLink" in p2p["source"]


# --- Report -----------------------------------------------------------------------------------------------------


def test_table_failure_lines_and_json_lines():
    records, checks, reasons = node.judge_node("n1", TOKENS[:2], [dict(GOOD), {**GOOD, "matmul": 500.0}], context())
    lines = report.table(records)
    assert lines[0].split() == ["GPU", "model", "matmul", "TFLOP/s", "copy", "GB/s", "h2d", "GB/s", "d2h", "GB/s"] + [
        "p2p", "GB/s", "verdict",
    ]  # fmt: skip
    assert "672.0/608" in lines[1] and lines[1].endswith("PASSED") and "500.0/608 LOW" in lines[2]
    [failure] = report.failure_lines("n1", records, [])
    assert failure.startswith("FAILED node n1 GPU 1: matmul 500.0 TFLOP/s < floor 607.5 TFLOP/s (measured")
    payload, code = report.summary("n1", records, checks=checks, reasons=reasons, facts={"seconds": 61.2})
    assert code == package.EXIT_FAILED and payload["seconds"] == 61.2 and payload["passedDevices"] == 1
    text = "\n".join(report.format_line(package.RECORD_MARKER, r) for r in records)
    text += "\n" + report.format_line(package.SUMMARY_MARKER, payload)
    parsed = parse_acceptance_log(text)
    assert [r["passed"] for r in parsed["records"]] == [True, False] and parsed["summary"]["seconds"] == 61.2
    assert parsed["records"][1]["checks"][0] == {**records[1]["checks"][0]}
    assert report.exit_code([], []) == package.EXIT_NOT_RUN
    assert report.exit_code([{"passed": True}], ["allreduce low"]) == package.EXIT_FAILED


def test_format_line_keeps_json_strict():
    line = report.format_line("M", {"a": float("nan"), "b": [float("inf")], "c": {"d": 1.5}})
    assert line == 'M {"a":null,"b":[null],"c":{"d":1.5}}'


def test_the_package_imports_no_torch_and_the_verifier_shares_its_markers():
    code = "import sys, aks_gpu.workloads.gpu_acceptance.node, aks_gpu.verifier.acceptance; print(sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'torch'" not in modules and "'pulumi'" not in modules
    assert acceptance.RECORD_MARKER is package.RECORD_MARKER and acceptance.SUMMARY_MARKER is package.SUMMARY_MARKER


def test_the_package_imports_only_itself_and_the_standard_library():
    folder = Path(package.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"torch", "pynvml"}
    for path in folder.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if line.startswith(("import ", "from ")) and not words[1].startswith("."):
                assert words[1].split(".")[0] in allowed, (path.name, line)
