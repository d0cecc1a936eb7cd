"""One node's run: health before, every device measured at once under sampling, multi-GPU figures, verdicts.

`main(argv)` is the package's entry (`python3 -m gpu_acceptance`); with `--measure`, `--pairs` or `--rank` it is
one of the processes the node's run starts (see `_child`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import (
    DEVICE_ENV,
    EXPECTATION_ENV,
    RECORD_MARKER,
    SUMMARY_MARKER,
    TIMEOUT_ENV,
    devices,
    health,
    judge,
    measure,
    multi,
    report,
)
from .spec import CheckSpec, Expectation, ExpectationError, parse_expectation

DEFAULT_TIMEOUT_S = 900.0
NO_NVLINK = CheckSpec(None, "none", "no active NVLink: GPU-to-GPU copies are judged on NVLink only (as aznhc does)")


def _child_env(visible: str) -> dict[str, str]:
    path = str(Path(os.path.abspath(__file__)).parent.parent)
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "CUDA_VISIBLE_DEVICES": visible, "PYTHONPATH": path + (os.pathsep + extra if extra else "")}


def _command(*args: object) -> list[str]:
    return [sys.executable, "-m", Path(os.path.abspath(__file__)).parent.name, *map(str, args)]


def _collect(procs: Sequence[tuple[subprocess.Popen[bytes], Path]], timeout: float) -> list[dict[str, Any]]:
    """Wait for every process (all share one deadline) and read its JSON result; a crash becomes an error."""
    deadline, results = time.monotonic() + timeout, []
    for proc, out in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            results.append({"error": f"took longer than {timeout:g} s"})
            continue
        try:
            results.append(json.loads(out.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            results.append({"error": f"the process exited with code {proc.returncode} and no result"})
    return results


def measure_all(tokens: Sequence[str], device: str, timeout: float) -> list[dict[str, Any]]:
    """Start one measuring process per device at once and gather their results, in token order."""
    with tempfile.TemporaryDirectory() as folder:
        procs = []
        for i, token in enumerate(tokens):
            out = Path(folder) / f"result-{i}.json"
            command = _command("--measure", out, i, len(tokens), folder, device)
            procs.append((subprocess.Popen(command, env=_child_env(token)), out))
        return _collect(procs, timeout)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure_multi(tokens: Sequence[str], exp: Expectation, device: str, timeout: float) -> dict[str, Any]:
    """GPU-to-GPU copies, then the all-reduce, in processes that see every device of the pod."""
    visible, count = ",".join(tokens), len(tokens)
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "pairs.json"
        [pairs] = _collect(
            [(subprocess.Popen(_command("--pairs", out, count, device), env=_child_env(visible)), out)], timeout
        )
        port, procs = _free_port(), []
        for rank in range(count):
            out = Path(folder) / f"rank-{rank}.json"
            command = _command("--rank", out, rank, count, port, exp.allreduce_bytes, device)
            procs.append((subprocess.Popen(command, env=_child_env(visible)), out))
        ranks = _collect(procs, timeout)
    found["pairs"] = pairs
    errors = [result["error"] for result in ranks if "error" in result]
    found["allreduceDetail"] = {"error": errors[0]} if errors else ranks[0]
    found["allreduce"] = None if errors else ranks[0].get("busbw")
    return found


def _child(args: Sequence[str]) -> int:
    kind, rest = args[0], list(args[1:])
    if kind == "--pairs":
        return multi.pairs_main(rest[0], int(rest[1]), rest[2])
    if kind == "--rank":
        return multi.rank_main(rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[4]), rest[5])
    exp = parse_expectation(os.environ.get(EXPECTATION_ENV))
    return measure.child_main(rest[0], int(rest[1]), int(rest[2]), rest[3], exp, rest[4])


def _ask(command: Sequence[str]) -> str:
    return devices.run(command, timeout=60)


def _try(command: Sequence[str]) -> str:
    try:
        return _ask(command)
    except (OSError, subprocess.SubprocessError):
        return ""


def read_health() -> dict[str, Any]:
    """nvidia-smi before the load: {"states", "apps", "links", "error"} (error None when it answered)."""
    try:
        states = health.query(_ask, health.STATE_FIELDS)
    except (OSError, subprocess.SubprocessError) as error:
        return {"states": [], "apps": {}, "links": {}, "error": f"{type(error).__name__}: {error}"}
    apps = health.parse_compute_apps(_try(["nvidia-smi", "--query-compute-apps=gpu_uuid,pid", "--format=csv,noheader"]))
    links = health.parse_nvlink_status(_try(["nvidia-smi", "nvlink", "--status"]))
    return {"states": states, "apps": apps, "links": links, "error": None}


@contextlib.contextmanager
def sampling(enabled: bool) -> Iterator[health.Sampler | None]:
    """A running Sampler while the load runs (None in the CPU run)."""
    if not enabled:
        yield None
        return
    with health.Sampler(_ask) as sampler:
        yield sampler


def health_problems(
    index: int | None, seen: Mapping[int, health.LoadSeen], read: Mapping[str, Any], exp: Expectation, mig: bool
) -> list[str]:
    """Every health problem of the GPU with nvidia-smi index `index`."""
    state = next((row for row in read["states"] if row.get("index") == index), None)
    if index is None or state is None:
        return []
    found = health.problems_before(state, read["apps"].get(str(state.get("uuid")), 0), mig)
    found += health.problems_under_load(seen.get(index, health.LoadSeen()), state)
    return found + health.problems_nvlink(read["links"], index, exp.nvlink)


def observed(index: int | None, seen: Mapping[int, health.LoadSeen], read: Mapping[str, Any]) -> dict[str, Any] | None:
    """What nvidia-smi showed of the device's GPU: its state before the load and the maxima under it."""
    state = next((row for row in read["states"] if index is not None and row.get("index") == index), None)
    if state is None:
        return None
    load = seen.get(index) if index is not None else None
    shown: dict[str, Any] = {"before": dict(state)}
    if load is not None and load.samples:
        clocks = sorted(load.sm_mhz)
        shown["load"] = {
            "samples": load.samples,
            "reasons": f"0x{load.reasons:x}",
            "pcieGen": load.pcie_gen,
            "pcieWidth": load.pcie_width,
            "maxPowerW": load.power_w,
            "maxTemperatureC": load.temperature_c,
            "smMhzBusy": [clocks[0], clocks[-1]] if clocks else None,
        }
    return shown


def build_record(
    node: str | None, index: int, token: str, measured: Mapping[str, Any], exp: Expectation, problems: Sequence[str]
) -> dict[str, Any]:
    """One device's machine-readable result, judged against the expectation (before the node-median check)."""
    checks = judge.device_checks(measured, exp)
    reasons = judge.device_reasons(measured, exp, checks) + list(problems)
    record: dict[str, Any] = {"node": node, "index": index, "uuid": token if token[:4] in ("GPU-", "MIG-") else None}
    for key in ("model", "memoryGiB", "driverVersion", "cudaVersion", "accuracy", "matrixSize", "maxRelError"):
        record[key] = measured.get(key)
    record.update(dtype=exp.dtype, tflops=measured.get("matmul"), gbps=measured.get("copy"))
    for key in ("matmul", "copy", "h2d", "d2h", "p2p", "loadedSeconds"):
        record[key] = measured.get(key)
    record.update(targetAccuracy=exp.target_accuracy, steps=exp.steps, health=list(problems), checks=checks)
    return {**record, "passed": not reasons, "reasons": reasons}


def _p2p_spec(exp: Expectation, read: Mapping[str, Any]) -> Expectation:
    active = any(any(links.values()) for links in read["links"].values())
    if exp.nvlink or active:
        return exp
    return Expectation(**{**exp.__dict__, "checks": {**exp.checks, "p2p": NO_NVLINK}})


def judge_node(
    node: str | None, tokens: Sequence[str], measured: list[dict[str, Any]], context: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(device records, node checks, node reasons)."""
    exp, read, seen, multi_found, parents = (context[k] for k in ("exp", "read", "seen", "multi", "parents"))
    mig = any(token.startswith("MIG-") for token in tokens)
    exp = _p2p_spec(exp, read)
    lowest = (multi_found.get("pairs") or {}).get("perDevice") or []
    records, mapped = [], set()
    for i, token in enumerate(tokens):
        gpu = health.gpu_of(token, read["states"], parents)
        mapped.add(gpu)
        values = {**measured[i], "driverVersion": context["driver"], "p2p": lowest[i] if i < len(lowest) else None}
        record = build_record(node, i, token, values, exp, health_problems(gpu, seen, read, exp, mig))
        records.append({**record, "nvidiaSmi": observed(gpu, seen, read)})
    for index, extra in judge.outlier_reasons(records, exp.outlier_margin).items():
        records[index]["reasons"] += extra
        records[index]["passed"] = False
    counted = len(read["states"]) or None  # None: nvidia-smi was not read (the CPU run) or failed (below)
    reasons = judge.count_reasons(exp, counted, len(tokens))
    reasons += [f"nvidia-smi could not be read: {read['error']}"] if read["error"] else []
    for row in read["states"]:
        if row.get("index") is not None and int(row["index"]) not in mapped:
            problems = health_problems(int(row["index"]), seen, read, exp, mig)
            reasons += [f"GPU {int(row['index'])}: {problem}" for problem in problems]
    checks = judge.node_checks(multi_found, exp)
    reasons += [judge.check_reason(check) for check in checks if check["status"] == "fail"]
    if multi_found.get("pairs", {}).get("error"):
        reasons.append(f"GPU-to-GPU copies failed: {multi_found['pairs']['error']}")
    detail = multi_found.get("allreduceDetail") or {}
    if detail.get("correct") is False:
        reasons.append("the all-reduce gave a wrong sum")
    return records, checks, reasons


def _print_result(
    node: str | None,
    records: Sequence[Mapping[str, Any]],
    checks: Sequence[Mapping[str, Any]],
    reasons: Sequence[str],
    facts: Mapping[str, Any],
) -> int:
    for line in report.table(records):
        print(line)
    for check in checks:
        print(f"node {check['name']} {report.cell(check)} {check['unit']} ({check['basis']}: {check['source']})")
    for name, source in report.sources(records):
        print(f"floor of {name}: {source}")
    print(f"measurement time {facts['seconds']:.1f} s ({len(records)} devices at once)")
    for line in report.failure_lines(node, records, reasons):
        print(line)
    for record in records:
        print(report.format_line(RECORD_MARKER, record))
    payload, code = report.summary(node, records, checks=checks, reasons=reasons, facts=facts)
    passed = sum(1 for record in records if record.get("passed"))
    print(
        f"Node {node}: {passed} of {len(records)} devices passed"
        + ("" if not reasons else f"; {len(reasons)} node problem(s)")
    )
    print(report.format_line(SUMMARY_MARKER, payload), flush=True)
    return code


def _not_run(node: str | None, error: str) -> int:
    payload, code = report.summary(node, [], error=error)
    print(f"Node {node}: the acceptance test could not run: {error}")
    print(report.format_line(SUMMARY_MARKER, payload), flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Test every visible device and the node, print the table, the records and the summary; the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--measure", "--pairs", "--rank"):
        return _child(args)
    node, started = os.environ.get("NODE_NAME") or None, time.monotonic()
    try:
        exp = parse_expectation(os.environ.get(EXPECTATION_ENV))
    except ExpectationError as error:
        return _not_run(node, f"bad expectation: {error}")
    device, timeout = os.environ.get(DEVICE_ENV) or "cuda", float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    listing = _try(["nvidia-smi", "-L"]) if device == "cuda" else ""
    tokens = devices.device_tokens(os.environ, listing, devices.torch_count) if device == "cuda" else _cpu_tokens()
    if not tokens:
        return _not_run(node, "no GPU visible")
    read = read_health() if device == "cuda" else {"states": [], "apps": {}, "links": {}, "error": None}
    print(f"== node {node}: {len(tokens)} device(s) {', '.join(tokens)}; measuring all at once", flush=True)
    with sampling(device == "cuda") as sampler:
        measured = measure_all(tokens, device, timeout)
    mig = any(token.startswith("MIG-") for token in tokens)
    found = measure_multi(tokens, exp, device, timeout) if len(tokens) > 1 and not mig else {}
    context = {"exp": exp, "read": read, "seen": sampler.seen if sampler else {}, "multi": found}
    context.update(
        parents=devices.parse_nvidia_smi_list(listing)[1],
        driver=devices.driver_version(_ask) if device == "cuda" else None,
    )
    records, checks, reasons = judge_node(node, tokens, measured, context)
    if sampler and sampler.error:
        reasons.append(f"nvidia-smi sampling stopped: {sampler.error}")
    facts: dict[str, Any] = {"seconds": round(time.monotonic() - started, 1), "gpus": len(read["states"]) or None}
    facts.update(concurrent=all(m.get("concurrent", False) for m in measured), multi=found or None)
    return _print_result(node, records, checks, reasons, facts)


def _cpu_tokens() -> list[str]:
    """The CPU run's devices: AKS_GPU_ACCEPTANCE_CPU_DEVICES of them (default 1), named by index."""
    return [str(i) for i in range(int(os.environ.get("AKS_GPU_ACCEPTANCE_CPU_DEVICES") or 1))]
