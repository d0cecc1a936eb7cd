"""Program evaluation benchmark: the dev stack's `pulumi preview` under the mock engine, beside a peer program.

    python benchmarks/evaluation_benchmark.py [--peer PATH] [--peer-site DIR] [--repeats N]

Each row runs one program in a fresh interpreter under the same mock engine
(tests/support/harness.py) with the same SDK versions, `REPEATS` times, and reports
the median wall time, CPU time (user + system) and peak resident memory of that
process, the resources it registered, and wall and CPU per resource. One more run
with `python -X importtime` gives import time by top-level package.

Rows:
- *aks-gpu dev*: this project's __main__.py with Pulumi.dev.yaml, in preview, no
  Azure sign-in (so the preflight skips, as on a machine without `az login`).
- *empty program*: an empty __main__.py under the same harness: the fixed cost of the
  interpreter, the SDK and the mock engine that every row pays.
- *peer azure-py-aks*: pulumi/examples' `azure-py-aks/__main__.py` (an AKS cluster with
  a service principal and an SSH key). Its code is not part of this repository: give
  `--peer` (or AKS_GPU_PEER) as the program file, a folder holding it (or holding
  `azure-py-aks/`), or a git directory of pulumi/examples (read with `git show`). It
  needs pulumi-azuread, pulumi-random and pulumi-tls, which this project does not
  use: install them anywhere (`pip install --target DIR --no-deps ...`) and give
  `--peer-site DIR` (or AKS_GPU_PEER_SITE). Without them the peer row is skipped.

It prints Markdown and writes benchmarks/evaluation.md. It is not a test: the figures
depend on the machine and on its load, which the report states.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "evaluation.md"
COMMAND = "python benchmarks/evaluation_benchmark.py --peer PATH --peer-site DIR"
PEER_PATH = "azure-py-aks/__main__.py"
OURS, EMPTY, PEER = "aks-gpu dev", "empty program", "peer azure-py-aks"
REPEATS = 7
TOP_PACKAGES = 8

# Runs in the child: one program under the mock engine, then one JSON line.
CHILD = """
import json, sys
from pathlib import Path
from tests.support import harness
program, kind = Path(sys.argv[1]), sys.argv[2]
if kind == "project":
    run = harness.run_program(preview=True, project_dir=program.parent)
else:
    run = harness.run_main(program, {}, project=program.parent.name, stack="dev", preview=True)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"resources": len(run.resources), "peak_mib": peak}))
"""


@dataclass(frozen=True)
class Program:
    label: str
    path: Path
    kind: str  # "project": a folder with Pulumi.yaml and stack file; "file": a bare program, no config
    extra_path: str = ""


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    peak_mib: float
    resources: int


def _child_env(extra_path: str, home: str) -> dict[str, str]:
    # No sign-in of any kind: no ARM_/AZURE_ variables, an empty home, no az on the PATH.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARM_", "AZURE_", "PYTHON"))}
    env.update(
        HOME=home,
        PATH=str(Path(sys.executable).parent),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), extra_path])),
    )
    return env


def measure(program: Program, home: str) -> Sample:
    """One fresh interpreter: wall from spawn to exit, CPU from os.wait4, peak RSS (VmHWM) as the child reports it."""
    args = [sys.executable, "-c", CHILD, str(program.path), program.kind]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=REPO, env=_child_env(program.extra_path, home), stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{program.label} failed:\n{err.read()[-3000:]}")
        found = json.loads(out.read().strip().splitlines()[-1])
    return Sample(wall, usage.ru_utime + usage.ru_stime, found["peak_mib"], found["resources"])


def import_times(program: Program, home: str) -> list[tuple[str, float, int]]:
    """One more run under `python -X importtime`: its import time by top-level package."""
    args = [sys.executable, "-X", "importtime", "-c", CHILD, str(program.path), program.kind]
    done = subprocess.run(args, cwd=REPO, env=_child_env(program.extra_path, home), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{program.label} failed:\n{done.stderr[-3000:]}")
    return import_time_by_package(done.stderr)


def import_time_by_package(stderr: str) -> list[tuple[str, float, int]]:
    """(top-level package, self import time in ms, modules) from `-X importtime` output, largest first."""
    totals: collections.Counter[str] = collections.Counter()
    modules: collections.Counter[str] = collections.Counter()
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            top = match[2].split(".")[0]
            totals[top] += int(match[1])
            modules[top] += 1
    return [(name, micros / 1000, modules[name]) for name, micros in totals.most_common()]


def find_peer(given: str | None, workdir: Path) -> Path | None:
    """The peer's __main__.py: a file, a folder holding it, or a git directory of pulumi/examples."""
    if not given:
        return None
    path = Path(given)
    for candidate in (path, path / "__main__.py", path / PEER_PATH):
        if candidate.is_file():
            return candidate
    shown = subprocess.run(["git", "--git-dir", str(path), "show", f"HEAD:{PEER_PATH}"], capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    target = workdir / "azure-py-aks" / "__main__.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(shown.stdout)
    return target


def peer_runs(program: Program, home: str) -> str | None:
    """None when the peer runs here; else why its row is skipped."""
    probe = subprocess.run(
        [sys.executable, "-c", "import pulumi_azuread, pulumi_random, pulumi_tls"],
        env=_child_env(program.extra_path, home),
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return "pulumi-azuread, pulumi-random or pulumi-tls is not importable (give --peer-site)"
    return None


def empty_program(workdir: Path) -> Path:
    path = workdir / "empty" / "__main__.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def machine() -> str:
    names = ("pulumi", "pulumi-azure-native", "pulumi-kubernetes")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in names)
    return f"{platform.platform()}, nproc {os.cpu_count()}, Python {platform.python_version()}, {versions}"


def peer_versions(site: str) -> str:
    if not site:
        return ""
    found = sorted(p.name.removesuffix(".dist-info") for p in Path(site).glob("pulumi_*.dist-info"))
    return ", ".join(name.replace("-", " ", 1) for name in found)


@dataclass(frozen=True)
class Row:
    program: Program
    samples: list[Sample]
    imports: list[tuple[str, float, int]]

    def median(self, field: str) -> float:
        return statistics.median(getattr(sample, field) for sample in self.samples)

    @property
    def resources(self) -> int:
        return self.samples[0].resources

    def cells(self) -> list[str]:
        wall, cpu, peak = self.median("wall"), self.median("cpu"), self.median("peak_mib")
        per = max(self.resources, 1)
        return [
            self.program.label,
            str(self.resources),
            f"{wall:.2f}",
            f"{cpu:.2f}",
            f"{peak:.0f}",
            f"{wall / per * 1000:.0f}",
            f"{cpu / per * 1000:.0f}",
            f"{min(s.wall for s in self.samples):.2f}-{max(s.wall for s in self.samples):.2f}",
        ]


def table(rows: list[Row]) -> str:
    header = [
        "program",
        "resources",
        "wall s",
        "CPU s",
        "peak MiB",
        "wall ms / resource",
        "CPU ms / resource",
        "wall range s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row.cells()) + " |" for row in rows])


def import_table(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        total = sum(ms for _, ms, _ in row.imports)
        top = ", ".join(f"{name} {ms:.0f} ms ({n})" for name, ms, n in row.imports[:TOP_PACKAGES])
        lines.append(f"- *{row.program.label}*: {total:.0f} ms in all; {top}")
    return "\n".join(lines)


def ratios(rows: list[Row]) -> str:
    by_label = {row.program.label: row for row in rows}
    ours, peer = by_label.get(OURS), by_label.get(PEER)
    if ours is None or peer is None:
        return "- No peer row, so no ratios."
    per_wall = (ours.median("wall") / ours.resources) / (peer.median("wall") / peer.resources)
    per_cpu = (ours.median("cpu") / ours.resources) / (peer.median("cpu") / peer.resources)
    return (
        f"- aks-gpu against the peer: wall {ours.median('wall') / peer.median('wall'):.2f}x, "
        f"CPU {ours.median('cpu') / peer.median('cpu'):.2f}x, "
        f"peak memory {ours.median('peak_mib') / peer.median('peak_mib'):.2f}x; "
        f"per resource: wall {per_wall:.2f}x, CPU {per_cpu:.2f}x (goal: at most 1.3x per resource and in memory)."
    )


def report(rows: list[Row], skipped: list[str], before: str, after: str, repeats: int, peer_site: str) -> str:
    skipped_text = "".join(f"\n- Skipped: {line}" for line in skipped)
    peer = peer_versions(peer_site)
    return f"""# Program evaluation benchmark

- Command: `{COMMAND}` (from the repository root)
- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
- Machine: {machine()}{f"; the peer also imports {peer}" if peer else ""}
- Machine load: {before} before, {after} after (the cores are shared with other work:
  figures on a busy machine are slower and more spread, hence the medians and the range).
- Each program ran {repeats} times, each in a fresh interpreter (`pulumi preview` under the mock
  engine of tests/support/harness.py); medians. Peak memory is the process's peak RSS (VmHWM).{skipped_text}

{table(rows)}

{ratios(rows)}

Import time by top-level package (self time summed, one `python -X importtime` run each;
modules in brackets):

{import_table(rows)}

- *aks-gpu dev*: __main__.py with Pulumi.dev.yaml, preview, no Azure sign-in (the preflight
  skips). *empty program*: an empty __main__.py under the same harness, the floor every row pays.
  *peer azure-py-aks*: pulumi/examples' azure-py-aks/__main__.py under the same harness.
- Resources: those the program registered with the engine, the stack itself not counted.
- The mock engine answers at once, so these rows time the program and the SDK, not Azure.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peer",
        default=os.environ.get("AKS_GPU_PEER"),
        help="azure-py-aks program, its folder or a git directory of pulumi/examples",
    )
    parser.add_argument(
        "--peer-site",
        default=os.environ.get("AKS_GPU_PEER_SITE", ""),
        help="folder holding pulumi-azuread, pulumi-random, pulumi-tls",
    )
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/evaluation.md alone")
    args = parser.parse_args(argv)
    before = load()
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        home = str(workdir / "home")
        Path(home).mkdir()
        programs = [Program(OURS, REPO / "__main__.py", "project"), Program(EMPTY, empty_program(workdir), "file")]
        skipped = []
        peer_file = find_peer(args.peer, workdir)
        if peer_file is None:
            skipped.append(f"{PEER}: no peer program found (--peer {args.peer or 'not given'})")
        else:
            peer = Program(PEER, peer_file, "file", args.peer_site)
            why = peer_runs(peer, home)
            programs += [peer] if why is None else []
            skipped += [f"{PEER}: {why}"] if why else []
        rows = []
        for program in programs:
            # Interleaving would spread load changes over every row; a row at a time keeps the cache warm alike.
            samples = [measure(program, home) for _ in range(args.repeats)]
            rows.append(Row(program, samples, import_times(program, home)))
    text = report(rows, skipped, before, load(), args.repeats, args.peer_site)
    if not args.no_write:
        RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
