"""The `aks-gpu-verify` command: wait for a cluster's GPUs (and its acceptance Job), print JSON.

    aks-gpu-verify --kubeconfig FILE --expected-gpus N [--timeout SECONDS]
                   [--selector LABEL=VALUE] [--resource NAME] [--plugin-namespace NS]
                   [--job NAME [--namespace NS] [--job-timeout SECONDS] [--workload acceptance|mnist]]

counts the allocatable NAME (default nvidia.com/gpu; nvidia.com/mig-<profile>
with MIG's mixed strategy) of the selected nodes that pods can use (Ready,
schedulable, no node-lifecycle taint), watching the device plugin's pods in
--plugin-namespace (default the stack's namespace; kube-system for the
AKS-managed GPU stack) and the nodes' GPU conditions on the way. With --job it
then waits for that Job (the acceptance test by default) and prints its
verdicts. Progress and reasons go to stderr; the report goes to stdout as
JSON when the cluster could be read. Exit status:

- 0: verified (and the Job's verdicts passed);
- 1: the GPUs fell short by the timeout, the Job did not complete in time or
  its verdicts failed, or the API server kept failing;
- 2: nothing a wait could fix: bad arguments, an unusable kubeconfig, a failed
  sign-in, the credentials refused (HTTP 401), the permissions refused (HTTP
  403), or the server's certificate not trusted by the kubeconfig;
- 3: a diagnosed cluster-side fault: the cluster named a cause that waiting
  cannot cure (a crash-looping plugin, an image the nodes cannot pull, a pod
  that cannot be scheduled or scaled up for, a GPU node condition, a failed Job).
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
from typing import Any

import kubernetes.client

from aks_gpu.facts.device_plugin import STACK_NAMESPACE
from aks_gpu.facts.kubernetes import DNS_LABEL, GPU_RESOURCE, LABEL_KEY_PATTERN, LABEL_NAME_PATTERN
from aks_gpu.verifier.errors import ClusterAccessError, DiagnosedFault, GpuTimeoutError, VerificationError
from aks_gpu.verifier.kubeconfig import api_client_from_kubeconfig
from aks_gpu.verifier.report import GpuReport
from aks_gpu.verifier.waiter import DEFAULT_SELECTOR, wait_for_gpus
from aks_gpu.verifier.workload import wait_and_read

EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE, EXIT_DIAGNOSED = 0, 1, 2, 3
DEFAULT_JOB_TIMEOUT = 3600.0

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


def _namespace(text: str) -> str:
    if not DNS_LABEL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a Kubernetes namespace name (a DNS label), not {text!r}")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aks-gpu-verify",
        description="Wait until the GPU nodes that pods can use (Ready, schedulable, no node-lifecycle "
        f"taint) advertise the expected allocatable {GPU_RESOURCE} (or --resource), then print a JSON report.",
        epilog="Exit status: 0 verified; 1 GPUs short at the timeout, the Job not complete in time or its "
        "verdicts failed, or the API server kept failing; 2 bad arguments, unusable kubeconfig, failed sign-in, "
        "credentials refused (401), permissions refused (403) or server certificate not trusted; 3 a diagnosed "
        "cluster-side fault (crash-looping plugin, image pull refused, unschedulable pod, no scale-up, GPU node "
        "condition, failed Job).",
    )
    parser.add_argument("--kubeconfig", required=True, metavar="FILE", help="kubeconfig file")
    parser.add_argument(
        "--expected-gpus",
        type=_expected_gpus,
        metavar="N",
        help="allocatable GPUs to wait for (0 only reports what is there); needed unless --job is given",
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
    parser.add_argument(
        "--plugin-namespace",
        type=_namespace,
        default=STACK_NAMESPACE,
        metavar="NS",
        help="where the device plugin's pods run (default: %(default)s, the stack's namespace; "
        "kube-system with the AKS-managed GPU stack)",
    )
    parser.add_argument("--job", metavar="NAME", type=_namespace, help="then wait for this workload Job")
    parser.add_argument(
        "--namespace", type=_namespace, default=STACK_NAMESPACE, metavar="NS", help="the Job's namespace"
    )
    parser.add_argument(
        "--job-timeout",
        type=_positive_seconds,
        default=DEFAULT_JOB_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the Job (default: %(default)g)",
    )
    parser.add_argument(
        "--workload",
        choices=("acceptance", "mnist"),
        default="acceptance",
        help="how to read the Job's result: the acceptance test's verdicts or the MNIST sample's log",
    )
    return parser


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: sys.argv); returns the exit status 0, 1, 2 or 3 (see the module)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:  # argparse exits on bad arguments and --help
        return int(exit_request.code or 0)
    if args.expected_gpus is None and args.job is None:
        _stderr("aks-gpu-verify: give --expected-gpus N, --job NAME, or both")
        return EXIT_USAGE
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    api, remaining = opened
    with api:
        return _run(api, args, remaining)


def _open(args: argparse.Namespace) -> tuple[kubernetes.client.ApiClient, float] | int:
    """The API client and the seconds left for the GPU wait, or the exit status of a kubeconfig that fails."""
    try:
        kubeconfig = Path(args.kubeconfig).read_text(encoding="utf-8")
        # An exec plugin (kubelogin) runs inside the same deadline as the wait:
        # its time is taken off the wait, so --timeout bounds the whole run. Whole
        # seconds are taken (overrun < 1 s), so a run without a slow plugin still
        # waits, and reports, exactly the --timeout given.
        started = time.monotonic()
        api = api_client_from_kubeconfig(kubeconfig, exec_timeout=args.timeout)
        return api, max(args.timeout - math.floor(time.monotonic() - started), 0.1)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        _stderr(f"Cannot read the kubeconfig {args.kubeconfig}: {reason}")
        return EXIT_USAGE
    except VerificationError as error:
        _stderr(str(error))
        return EXIT_USAGE


def _run(api: kubernetes.client.ApiClient, args: argparse.Namespace, remaining: float) -> int:
    """Wait for the GPUs, then the Job; print what was read; map the outcome to an exit status."""
    output: dict[str, Any] = {}
    try:
        if args.expected_gpus is not None:
            report = wait_for_gpus(
                api,
                args.expected_gpus,
                remaining,
                args.selector,
                progress=_stderr,
                resource=args.resource,
                plugin_namespace=args.plugin_namespace,
            )
            output["gpus"] = report.to_dict()
        if args.job:
            output["workload"] = wait_and_read(
                api,
                args.workload,
                args.namespace,
                args.job,
                args.job_timeout,
                plugin_namespace=args.plugin_namespace,
                node_selector=args.selector,
                progress=_stderr,
            )
    except DiagnosedFault as error:
        return _fail(output, error, EXIT_DIAGNOSED, error.report)
    except GpuTimeoutError as error:
        return _fail(output, error, EXIT_FAILED, error.report)
    except ClusterAccessError as error:
        return _fail(output, error, EXIT_USAGE)
    except VerificationError as error:
        output["workload"] = getattr(error, "result", None)
        return _fail(output, error, EXIT_FAILED)
    _print(output, args)
    return EXIT_VERIFIED


def _fail(output: dict[str, Any], error: VerificationError, code: int, report: GpuReport | None = None) -> int:
    if report is not None and "gpus" not in output:
        output["gpus"] = report.to_dict()
    if output.get("gpus") is not None or output.get("workload") is not None:
        # The GPU report alone keeps the first release's shape (the report at the top).
        print(json.dumps(output if "workload" in output else output["gpus"], indent=2), flush=True)
    _stderr(str(error))
    return code


def _print(output: dict[str, Any], args: argparse.Namespace) -> None:
    print(json.dumps(output if args.job else output["gpus"], indent=2), flush=True)


if __name__ == "__main__":
    sys.exit(main())
