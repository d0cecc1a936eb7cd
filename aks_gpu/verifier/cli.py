"""The `aks-gpu-verify` command: wait for a cluster's GPUs and print a JSON report.

    aks-gpu-verify --kubeconfig FILE --expected-gpus N [--timeout SECONDS] [--selector LABEL=VALUE]

prints the report as JSON on stdout and exits 0 when the GPUs are there, 1 when
they fell short (or the cluster could not be read) and 2 for bad arguments or
an unusable kubeconfig. Progress and reasons go to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from aks_gpu.facts.kubernetes import GPU_RESOURCE, LABEL_KEY_PATTERN, LABEL_NAME_PATTERN
from aks_gpu.verifier.errors import GpuTimeoutError, VerificationError
from aks_gpu.verifier.kubeconfig import api_client_from_kubeconfig
from aks_gpu.verifier.report import GpuReport
from aks_gpu.verifier.waiter import DEFAULT_SELECTOR, wait_for_gpus

EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_SELECTOR_TERM = rf"{LABEL_KEY_PATTERN}(?:=|==|!=)(?:{LABEL_NAME_PATTERN})?"
_SELECTOR = re.compile(rf"{_SELECTOR_TERM}(?:,{_SELECTOR_TERM})*")


def _expected_gpus(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, not {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _label_selector(text: str) -> str:
    if not _SELECTOR.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be LABEL=VALUE (or several, comma-separated; == and != work too), not {text!r}"
        )
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aks-gpu-verify",
        description="Wait until a cluster's GPU nodes advertise the expected "
        f"allocatable {GPU_RESOURCE}, then print a JSON report.",
        epilog="Exit status: 0 verified, 1 GPUs short / timed out / cluster "
        "unreadable, 2 bad arguments or unusable kubeconfig.",
    )
    parser.add_argument("--kubeconfig", required=True, metavar="FILE", help="kubeconfig file")
    parser.add_argument(
        "--expected-gpus",
        required=True,
        type=_expected_gpus,
        metavar="N",
        help="allocatable GPUs to wait for (0 only reports what is there)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait (default: %(default)g)",
    )
    parser.add_argument(
        "--selector",
        type=_label_selector,
        default=DEFAULT_SELECTOR,
        metavar="LABEL=VALUE",
        help="which nodes are GPU nodes (default: %(default)s)",
    )
    return parser


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_report(report: GpuReport) -> None:
    print(json.dumps(report.to_dict(), indent=2), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: sys.argv); returns the exit status 0, 1 or 2."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:  # argparse exits on bad arguments and --help
        return int(exit_request.code or 0)
    try:
        kubeconfig = Path(args.kubeconfig).read_text(encoding="utf-8")
        # An exec plugin (kubelogin) gets the same limit as the wait, never longer.
        api = api_client_from_kubeconfig(kubeconfig, exec_timeout=args.timeout)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        _stderr(f"Cannot read the kubeconfig {args.kubeconfig}: {reason}")
        return EXIT_USAGE
    except VerificationError as error:
        _stderr(str(error))
        return EXIT_USAGE
    with api:
        try:
            report = wait_for_gpus(api, args.expected_gpus, args.timeout, args.selector, progress=_stderr)
        except GpuTimeoutError as error:
            _print_report(error.report)
            _stderr(str(error))
            return EXIT_FAILED
        except VerificationError as error:
            _stderr(str(error))
            return EXIT_FAILED
    _print_report(report)
    return EXIT_VERIFIED


if __name__ == "__main__":
    sys.exit(main())
