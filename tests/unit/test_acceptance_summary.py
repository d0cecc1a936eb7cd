"""The Markdown summary (`python -m aks_gpu.verifier.summary`) on the logs real H200s printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aks_gpu.verifier import summary

DATA = Path(__file__).resolve().parent.parent / "data"


def test_twenty_healthy_runs_make_twenty_passing_rows():
    markdown, code = summary.render((DATA / "h200_acceptance_20runs.log").read_text())
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "device-h200" in line]
    assert code == 0 and len(rows) == 20 and all("| passed |" in row for row in rows)
    assert "| 1 | device-h200 | 0 | NVIDIA H200 | 677.8 / 608 | 4266.1 / 3825 | 55.4 / 48 | 55.2 / 48 | - |" in rows[0]
    assert "- run 20, node device-h200: passed; measured in 12.5 s" in markdown


def test_the_loaded_run_fails_naming_its_rates():
    markdown, code = summary.render((DATA / "h200_acceptance_loaded.log").read_text())
    assert code == 1 and "346.8 / 608 **LOW**" in markdown and "2328.4 / 3825 **LOW**" in markdown
    assert "another process uses the GPU before the test" in markdown


def test_the_older_scripts_logs_and_empty_input():
    markdown, code = summary.render((DATA / "h200_acceptance_pod.log").read_text())
    assert code == 0 and "| 666.6 | 4275.7 | - | - | - | passed |" in markdown
    assert summary.render("no result here\n") == ("No acceptance result in the input.\n", 2)


def test_the_command_reads_a_file_or_standard_input():
    log = DATA / "h200_acceptance_fail.log"
    by_file = subprocess.run(
        [sys.executable, "-m", "aks_gpu.verifier.summary", str(log)], capture_output=True, text=True
    )
    by_stdin = subprocess.run(
        [sys.executable, "-m", "aks_gpu.verifier.summary", "-"], input=log.read_text(), capture_output=True, text=True
    )
    assert by_file.returncode == by_stdin.returncode == 1 and by_file.stdout == by_stdin.stdout
    assert "**FAILED**" in by_file.stdout
    assert summary.main([]) == 2
