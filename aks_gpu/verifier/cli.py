"""The `aks-gpu-verify` command: wait for a cluster's GPUs and print a JSON report.

    aks-gpu-verify --kubeconfig FILE --expected-gpus N [--timeout SECONDS]
                   [--selector LABEL=VALUE] [--resource NAME]

counts the allocatable NAME (default nvidia.com/gpu; nvidia.com/mig-<profile>
with MIG's mixed strategy) of the selected nodes that pods can use (Ready,
schedulable, no node-lifecycle taint). Progress and reasons go to stderr; the
report goes to stdout as JSON when the cluster could be read. Exit status:

- 0: verified, the GPUs are there;
- 1: the GPUs fell short by the timeout, or the API server kept failing or
  refused the request for another reason (the report shows what was seen);
- 2: nothing a wait could fix: bad arguments, an unusable kubeconfig, the
  credentials refused (HTTP 401), the permissions refused (HTTP 403), or the
  server's certificate not trusted by the kubeconfig.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aks_gpu.facts.kubernetes import GPU_RESOURCE, LABEL_KEY_PATTERN, LABEL_NAME_PATTERN
from aks_gpu.verifier.errors import ClusterAccessError, GpuTimeoutError, VerificationError
from aks_gpu.verifier.kubeconfig import api_client_from_kubeconfig
from aks_gpu.verifier.report import GpuReport
from aks_gpu.verifier.waiter import DEFAULT_SELECTOR, wait_for_gpus

EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_SELECTOR_TERM = rf"{LABEL_KEY_PATTERN}(?:=|==|!=)(?:{LABEL_NAME_PATTERN})?"
_SELECTOR = re.compile(rf"{_SELECTOR_TERM}(?:,{_SELECTOR_TERM})*")
# Extended resources are fully qualified: a DNS-subdomain prefix, then a name.
_RESOURCE = re.compile(rf"(?=[^/]+/){LABEL_KEY_PATTERN}")


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


def _resource_name(text: str) -> str:
    if not _RESOURCE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be an extended resource name such as {GPU_RESOURCE} or nvidia.com/mig-1g.10gb, not {text!r}"
        )
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aks-gpu-verify",
        description="Wait until the GPU nodes that pods can use (Ready, schedulable, no node-lifecycle "
        f"taint) advertise the expected allocatable {GPU_RESOURCE} (or --resource), then print a JSON report.",
        epilog="Exit status: 0 verified; 1 GPUs short at the timeout, or the API server kept failing or refused "
        "for another reason; 2 bad arguments, unusable kubeconfig, credentials refused (401), permissions "
        "refused (403) or server certificate not trusted.",
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
    parser.add_argument(
        "--resource",
        type=_resource_name,
        default=GPU_RESOURCE,
        metavar="NAME",
        help="the extended resource to count (default: %(default)s; with MIG's mixed strategy "
        "nvidia.com/mig-<profile>, e.g. nvidia.com/mig-1g.10gb)",
    )
    return parser


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_report(report: GpuReport) -> None:
    print(json.dumps(report.to_dict(), indent=2), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: sys.argv); returns the exit status 0, 1 or 2 (see the module)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:  # argparse exits on bad arguments and --help
        return int(exit_request.code or 0)
    try:
        kubeconfig = Path(args.kubeconfig).read_text(encoding="utf-8")
        # An exec plugin (kubelogin) runs inside the same deadline as the wait:
        # its time is taken off the wait, so --timeout bounds the whole run. Whole
        # seconds are taken (overrun < 1 s), so a run without a slow plugin still
        # waits, and reports, exactly the --timeout given.
        started = time.monotonic()
        api = api_client_from_kubeconfig(kubeconfig, exec_timeout=args.timeout)
        remaining = max(args.timeout - math.floor(time.monotonic() - started), 0.1)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        _stderr(f"Cannot read the kubeconfig {args.kubeconfig}: {reason}")
        return EXIT_USAGE
    except VerificationError as error:
        _stderr(str(error))
        return EXIT_USAGE
    with api:
        try:
            report = wait_for_gpus(
                api, args.expected_gpus, remaining, args.selector, progress=_stderr, resource=args.resource
            )
        except GpuTimeoutError as error:
            _print_report(error.report)
            _stderr(str(error))
            return EXIT_FAILED
        except ClusterAccessError as error:
            _stderr(str(error))
            return EXIT_USAGE
        except VerificationError as error:
            _stderr(str(error))
            return EXIT_FAILED
    _print_report(report)
    return EXIT_VERIFIED


if __name__ == "__main__":
    sys.exit(main())
