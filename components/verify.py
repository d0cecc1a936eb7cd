"""Check that a cluster's GPU nodes really advertise the GPUs a deployment expects.

A deployment can finish "green" while the NVIDIA device plugin never registered
a GPU (it does not tolerate a taint, the driver did not install, ...). This
module waits until the allocatable `nvidia.com/gpu` of the GPU nodes adds up to
the expected count and reports what each node advertises. It reads the sample
Job's result from its pod log as well.

It talks to the API with the official `kubernetes` client only and must not
import pulumi: it runs inside a Pulumi dynamic provider and in pipelines, as

    python -m components.verify --kubeconfig FILE --expected-gpus N \
        [--timeout SECONDS] [--selector LABEL=VALUE]

which prints the report as JSON on stdout and exits 0 when the GPUs are there,
1 when they fell short (or the cluster could not be read) and 2 for bad
arguments or an unusable kubeconfig. Progress and reasons go to stderr.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import math
import os
import random
import re
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import urllib3
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader
from kubernetes.utils import parse_quantity
from kubernetes.watch import Watch

from components.catalog import GPU_NODE_LABEL, GPU_RESOURCE, INSTANCE_TYPE_LABEL

DEFAULT_SELECTOR = "=".join(GPU_NODE_LABEL)
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"

# 500 is what kubectl and client-go informers use: small enough to keep each
# response cheap for the API server, large enough that 5,000 nodes take 10 calls.
LIST_PAGE_SIZE = 500
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT_GRACE = 5.0
# The sample's log is a few dozen lines; the bound only protects the caller's
# memory from a runaway log. The last accuracy line is always near the end.
LOG_TAIL_LINES = 1000

ProgressFn = Callable[[str], None]

_ACCURACY_LINE = re.compile(r"Accuracy at step (\d+): (\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")

USUAL_CAUSES = (
    (
        "the NVIDIA device plugin does not tolerate the GPU pool's taints "
        "(e.g. sku=gpu:NoSchedule) or the spot taint "
        "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
    ),
    "the device plugin DaemonSet is not running on the GPU nodes, or runs a wrong image",
    "the NVIDIA driver install is still in progress or failed (capacity stays 0 on a GPU VM)",
    "the nodes are still provisioning, or the autoscaler keeps the GPU pool at 0 nodes",
    ("the subscription has no GPU quota for this VM family in the region, so the pool cannot scale up"),
)


# --- Report --------------------------------------------------------------------


@dataclass(frozen=True)
class GpuNode:
    """What one GPU node advertises to the scheduler."""

    name: str
    capacity: int
    allocatable: int
    gpu_product: str | None
    vm_size: str | None

    @classmethod
    def from_api(cls, node: dict[str, Any]) -> GpuNode:
        """Build from a Node object as the API returns it (JSON, not a model)."""
        metadata = node.get("metadata") or {}
        labels = metadata.get("labels") or {}
        status = node.get("status") or {}
        return cls(
            name=metadata["name"],
            capacity=_gpu_count(status.get("capacity")),
            allocatable=_gpu_count(status.get("allocatable")),
            gpu_product=labels.get(GPU_PRODUCT_LABEL),
            vm_size=labels.get(INSTANCE_TYPE_LABEL),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "capacity": self.capacity,
            "allocatable": self.allocatable,
            "gpuProduct": self.gpu_product,
            "vmSize": self.vm_size,
        }

    def describe(self) -> str:
        details = ", ".join(filter(None, (self.vm_size, self.gpu_product)))
        kind = f" ({details})" if details else ""
        return f"{self.name}{kind}: capacity {self.capacity}, allocatable {self.allocatable}"


def _gpu_count(resources: dict[str, str] | None) -> int:
    quantity = (resources or {}).get(GPU_RESOURCE)
    return int(parse_quantity(quantity)) if quantity is not None else 0


@dataclass(frozen=True)
class GpuReport:
    """The GPU nodes seen at one moment, and how many GPUs were expected."""

    expected: int
    nodes: tuple[GpuNode, ...]

    @property
    def verified(self) -> int:
        return sum(node.allocatable for node in self.nodes)

    @property
    def ok(self) -> bool:
        return self.verified >= self.expected

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectedGpus": self.expected,
            "verifiedGpus": self.verified,
            "nodes": [node.to_dict() for node in self.nodes],
        }


# --- Errors --------------------------------------------------------------------


class VerificationError(Exception):
    """The check could not confirm the GPUs; str() is the message for users."""


class GpuTimeoutError(VerificationError):
    """The GPUs did not become allocatable in time."""

    def __init__(self, message: str, report: GpuReport) -> None:
        super().__init__(message)
        self.report = report


class ClusterAccessError(VerificationError):
    """The API server rejected the credentials (401) or the permissions (403)."""


def _access_error(error: ApiException, action: str, permission: str) -> ClusterAccessError:
    if error.status == 401:
        return ClusterAccessError(
            f"The Kubernetes API server rejected the kubeconfig's credentials "
            f"(HTTP 401 Unauthorized) when trying to {action}. The kubeconfig has "
            f"probably expired or its credentials were rotated, or its exec plugin "
            f"(kubelogin) could not get a token: fetch fresh cluster credentials."
        )
    detail = _status_message(error)
    return ClusterAccessError(
        f"The kubeconfig's identity may not {action} (HTTP 403 Forbidden)"
        f"{': ' + detail if detail else ''}. Its RBAC role needs {permission}."
    )


def _status_message(error: ApiException) -> str:
    """The `message` of the Kubernetes Status in an error body, if there is one."""
    try:
        return str(json.loads(error.body or "")["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return ""


def _read_body(response: urllib3.BaseHTTPResponse) -> bytes:
    """Read a response requested with `_preload_content=False` and free its connection."""
    try:
        return response.data
    finally:
        response.release_conn()


def _describe(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason or ''}".strip()
    return f"{type(error).__name__}: {error}"[:300]


# Errors worth retrying: the API server is briefly unhealthy or overloaded, or the
# connection broke (a load balancer or the API server ends long watches).
_TRANSIENT_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError)


# --- Kubeconfig ----------------------------------------------------------------


def api_client_from_kubeconfig(kubeconfig: str) -> kubernetes.client.ApiClient:
    """Build an API client from kubeconfig YAML text, entirely in memory.

    The `kubernetes` client writes inline certificates and keys
    (`*-data` fields) to temporary files; here they go into an in-memory TLS
    context instead, so the credentials never reach a disk.
    """
    config = _parse_kubeconfig(kubeconfig)
    inline = _take_inline_tls_data(config)
    configuration = kubernetes.client.Configuration()
    try:
        loader = KubeConfigLoader(config_dict=config)
        loader.load_and_set(configuration)
        context = loader.current_context["context"]
    except (ConfigException, KeyError, TypeError, ValueError, AttributeError) as error:
        # ConfigException messages name keys and paths, never values.
        detail = str(error) if isinstance(error, ConfigException) else "unexpected structure"
        raise VerificationError(f"The kubeconfig is not usable: {detail}") from None
    client = kubernetes.client.ApiClient(configuration)
    tls = _tls_context(
        configuration,
        ca=inline.get(("clusters", context.get("cluster"), "certificate-authority-data")),
        cert=inline.get(("users", context.get("user"), "client-certificate-data")),
        key=inline.get(("users", context.get("user"), "client-key-data")),
    )
    if tls is not None:
        client.rest_client.pool_manager.connection_pool_kw["ssl_context"] = tls
    return client


def _parse_kubeconfig(kubeconfig: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as error:
        # PyYAML quotes the offending line, which may hold a token: keep only where.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise VerificationError(f"The kubeconfig is not valid YAML{where}.") from None
    if not isinstance(config, dict):
        raise VerificationError("The kubeconfig is not a YAML mapping.")
    return config


_INLINE_TLS_FIELDS = {
    "clusters": ("cluster", ("certificate-authority-data",)),
    "users": ("user", ("client-certificate-data", "client-key-data")),
}


def _take_inline_tls_data(config: dict[str, Any]) -> dict[tuple[str, str, str], bytes]:
    """Remove the inline certificates and keys from `config`, so the loader
    cannot write them to files; return them decoded, keyed by
    (section, entry name, field).
    """
    taken: dict[tuple[str, str, str], bytes] = {}
    for section, (inner, fields) in _INLINE_TLS_FIELDS.items():
        entries = config.get(section)
        for entry in entries if isinstance(entries, list) else ():
            body = entry.get(inner) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for field in fields:
                if field in body:
                    taken[(section, entry.get("name"), field)] = _b64decode(body.pop(field), field)
    return taken


def _b64decode(value: Any, field: str) -> bytes:
    try:
        return base64.standard_b64decode(value)
    except (binascii.Error, TypeError, ValueError):
        raise VerificationError(f"The kubeconfig's {field} is not valid base64.") from None


def _tls_context(
    configuration: kubernetes.client.Configuration,
    ca: bytes | None,
    cert: bytes | None,
    key: bytes | None,
) -> ssl.SSLContext | None:
    if ca is None and cert is None and key is None:
        return None
    if (cert is None) != (key is None):
        raise VerificationError(
            "The kubeconfig user has only one of client-certificate-data and client-key-data; give both inline."
        )
    try:
        context = ssl.create_default_context(cadata=ca.decode("ascii") if ca else None)
        if cert is not None and key is not None:
            _load_client_certificate(context, cert, key)
    except (ssl.SSLError, ValueError):
        raise VerificationError(
            "The kubeconfig's certificate authority, client certificate or key is not valid PEM."
        ) from None
    # urllib3 sets verify_mode from verify_ssl; it may only drop to CERT_NONE
    # (insecure-skip-tls-verify) when hostname checking is off.
    context.check_hostname = configuration.verify_ssl
    return context


def _load_client_certificate(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # `ssl` reads certificates and keys only from a path. On Linux an anonymous
    # memory file gives it one without putting the private key on a disk.
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("kubeconfig-client-certificate", os.MFD_CLOEXEC)
        try:
            with open(fd, "wb", closefd=False) as memory_file:
                memory_file.write(cert + b"\n" + key)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    # Elsewhere (macOS laptops): a file only its owner can read, removed as soon
    # as `ssl` has loaded it, instead of the client's files that live until exit.
    fd, path = tempfile.mkstemp(prefix="kubeconfig-", suffix=".pem")
    try:
        with open(fd, "wb") as key_file:
            key_file.write(cert + b"\n" + key)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


# --- Waiting for GPUs ----------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between retries of failed API calls."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 10.0

    def delay(self, failures: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(failures - 1, 0))
        # Half fixed, half random: spreads clients that failed together.
        return base / 2 + rng.uniform(0, base / 2)


class _Deadline:
    def __init__(self, timeout: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._end = clock() + timeout

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())


class GpuWaiter:
    """List then watch GPU nodes until their allocatable GPUs reach `expected`.

    `wait_for_gpus` is the usual entry point; this class exposes the backoff,
    clock and sleep so tests can make retries fast and observable.
    """

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        expected: int,
        timeout: float,
        selector: str = DEFAULT_SELECTOR,
        progress: ProgressFn | None = None,
        *,
        backoff: Backoff = Backoff(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        if expected < 0:
            raise ValueError("expected must not be negative")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._core = kubernetes.client.CoreV1Api(api)
        self._expected = expected
        self._timeout = timeout
        self._selector = selector
        self._progress = progress or (lambda message: None)
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._page_size = page_size
        self._nodes: dict[str, GpuNode] = {}
        # None until a list succeeds, and again whenever the watch has expired.
        self._resource_version: str | None = None
        self._failures = 0
        self._last_error: str | None = None
        self._last_progress: tuple[int, int] | None = None

    def run(self) -> GpuReport:
        deadline = _Deadline(self._timeout, self._clock)
        self._progress(
            f"Waiting up to {self._timeout:g}s for {self._expected} allocatable "
            f"{GPU_RESOURCE} on nodes matching {self._selector}"
        )
        while True:
            if self._resource_version is not None and self._verified() >= self._expected:
                return self.report()
            if deadline.remaining() <= 0:
                raise self._timeout_error()
            try:
                if self._resource_version is None:
                    self._list(deadline)
                elif not self._watch(deadline):
                    self._pause("The watch closed without any event", deadline)
            except ApiException as error:
                self._on_api_error(error, deadline)
            except _TRANSPORT_ERRORS as error:
                self._retry_later(_describe(error), deadline)

    def report(self) -> GpuReport:
        nodes = tuple(sorted(self._nodes.values(), key=lambda node: node.name))
        return GpuReport(expected=self._expected, nodes=nodes)

    def _verified(self) -> int:
        # Cheaper than report().verified, which sorts: this runs on every event.
        return sum(node.allocatable for node in self._nodes.values())

    def _list(self, deadline: _Deadline) -> None:
        nodes: dict[str, GpuNode] = {}
        token: str | None = None
        while True:
            page = self._list_page(token, deadline)
            for item in page.get("items") or []:
                node = GpuNode.from_api(item)
                nodes[node.name] = node
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        # Only a complete list replaces the state: a list cut short by an error
        # must not make nodes disappear.
        self._nodes = nodes
        self._resource_version = page["metadata"]["resourceVersion"]
        self._succeeded()

    def _list_page(self, token: str | None, deadline: _Deadline) -> dict[str, Any]:
        # Raw JSON: building V1Node models for thousands of nodes costs far more
        # than the request itself.
        response = self._core.list_node(
            label_selector=self._selector,
            limit=self._page_size,
            _continue=token,
            _preload_content=False,
            _request_timeout=self._request_timeout(deadline),
        )
        try:
            return json.loads(_read_body(response))
        except ValueError:
            raise VerificationError("The API server's node list is not JSON.") from None

    def _watch(self, deadline: _Deadline) -> bool:
        """Apply watch events until the GPUs are there or the stream ends.

        Returns whether any event arrived.
        """
        stream = Watch(return_type="object").stream(
            self._core.list_node,
            label_selector=self._selector,
            resource_version=self._resource_version,
            allow_watch_bookmarks=True,
            # The server ends the watch by the deadline, which also stops the
            # Watch helper from retrying on its own.
            timeout_seconds=max(1, math.ceil(deadline.remaining())),
            _request_timeout=self._request_timeout(deadline),
        )
        received = False
        with contextlib.closing(stream):
            for event in stream:
                received = True
                self._apply(event["type"], event["raw_object"])
                self._succeeded()
                if self._verified() >= self._expected:
                    break
        return received

    def _apply(self, event_type: str, node: dict[str, Any]) -> None:
        self._resource_version = node["metadata"]["resourceVersion"]
        if event_type in ("ADDED", "MODIFIED"):
            gpu_node = GpuNode.from_api(node)
            self._nodes[gpu_node.name] = gpu_node
        elif event_type == "DELETED":
            self._nodes.pop(node["metadata"]["name"], None)

    def _request_timeout(self, deadline: _Deadline) -> tuple[float, float]:
        # The read timeout ends a connection that silently died; the grace lets
        # the server close the watch itself (its timeout is rounded up to whole
        # seconds). The client rejects zero timeouts.
        remaining = max(deadline.remaining(), 0.1)
        return (min(CONNECT_TIMEOUT, remaining), remaining + READ_TIMEOUT_GRACE)

    def _on_api_error(self, error: ApiException, deadline: _Deadline) -> None:
        if error.status in (401, 403):
            raise _access_error(error, "list and watch nodes", "list and watch on nodes") from None
        if error.status == 410:
            self._progress("The watch expired (410 Gone); listing the nodes again")
            self._resource_version = None
            return
        if error.status in _TRANSIENT_STATUSES:
            self._retry_later(_describe(error), deadline)
            return
        detail = _status_message(error)
        raise VerificationError(
            f"The API server refused to list nodes matching {self._selector}: "
            f"{_describe(error)}{'; ' + detail if detail else ''}"
        ) from None

    def _retry_later(self, reason: str, deadline: _Deadline) -> None:
        self._last_error = reason
        self._pause(f"API error ({reason})", deadline)

    def _pause(self, reason: str, deadline: _Deadline) -> None:
        if deadline.remaining() <= 0:
            return  # the run loop reports the timeout
        self._failures += 1
        delay = min(self._backoff.delay(self._failures, self._rng), deadline.remaining())
        self._progress(f"{reason}; retrying in {delay:.1f}s")
        self._sleep(delay)

    def _succeeded(self) -> None:
        self._failures = 0
        self._last_error = None
        counts = (len(self._nodes), self._verified())
        if counts != self._last_progress:
            self._last_progress = counts
            self._progress(
                f"{counts[1]}/{self._expected} GPUs allocatable on {counts[0]} node(s) matching {self._selector}"
            )

    def _timeout_error(self) -> GpuTimeoutError:
        report = self.report()
        lines = [
            (
                f"Timed out after {self._timeout:g}s waiting for {self._expected} "
                f"allocatable {GPU_RESOURCE}: {report.verified} verified."
            )
        ]
        if self._last_error:
            lines.append(f"Last API error: {self._last_error}")
        if report.nodes:
            lines.append(f"GPU nodes (matching {self._selector}):")
            lines.extend(f"  {node.describe()}" for node in report.nodes)
        else:
            lines.append(f"No node matches the selector {self._selector} yet.")
        lines.append("Usual causes:")
        lines.extend(f"  - {cause}" for cause in USUAL_CAUSES)
        return GpuTimeoutError("\n".join(lines), report)


def wait_for_gpus(
    api: kubernetes.client.ApiClient,
    expected: int,
    timeout: float,
    selector: str = DEFAULT_SELECTOR,
    progress: ProgressFn | None = None,
) -> GpuReport:
    """Wait until the nodes matching `selector` have `expected` allocatable GPUs.

    With `expected` 0 it only records what is there (a pool scaled to zero).
    Raises GpuTimeoutError (with the last report) when `timeout` seconds pass
    first, ClusterAccessError at once on 401/403.
    """
    return GpuWaiter(api, expected, timeout, selector, progress).run()


# --- Sample job result ---------------------------------------------------------


def parse_sample_log(log: str, tail: int = 10) -> dict[str, Any]:
    """The final accuracy of the MNIST sample (if the log has one) and the last lines."""
    if tail < 0:
        raise ValueError("tail must not be negative")
    matches = _ACCURACY_LINE.findall(log)
    step, accuracy = matches[-1] if matches else (None, None)
    lines = [line.rstrip() for line in log.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return {
        "accuracy": float(accuracy) if accuracy is not None else None,
        "step": int(step) if step is not None else None,
        "lastLines": lines[-tail:] if tail else [],
    }


def read_job_result(api: kubernetes.client.ApiClient, namespace: str, job_name: str, tail: int = 10) -> dict[str, Any]:
    """The Job's status and what its newest (preferably succeeded) pod logged."""
    batch = kubernetes.client.BatchV1Api(api)
    core = kubernetes.client.CoreV1Api(api)
    with _reading(f"read Job {namespace}/{job_name}", f"get on jobs in {namespace}"):
        job = batch.read_namespaced_job(job_name, namespace)
    with _reading(f"list the pods of Job {namespace}/{job_name}", f"list on pods in {namespace}"):
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    pod = _result_pod(pods)
    log = ""
    if pod is not None:
        with _reading(f"read the log of pod {namespace}/{pod}", f"get on pods/log in {namespace}"):
            response = core.read_namespaced_pod_log(pod, namespace, tail_lines=LOG_TAIL_LINES, _preload_content=False)
            log = _read_body(response).decode("utf-8", errors="replace")
    return {"status": _job_status(job), "pod": pod, **parse_sample_log(log, tail)}


@contextlib.contextmanager
def _reading(action: str, permission: str) -> Iterator[None]:
    try:
        yield
    except ApiException as error:
        if error.status in (401, 403):
            raise _access_error(error, action, permission) from None
        raise VerificationError(f"Could not {action}: {_describe(error)}") from None
    except _TRANSPORT_ERRORS as error:
        raise VerificationError(f"Could not {action}: {_describe(error)}") from None


def _job_status(job: kubernetes.client.V1Job) -> str:
    conditions = (job.status and job.status.conditions) or []
    done = {condition.type for condition in conditions if condition.status == "True"}
    for status in ("Complete", "Failed"):
        if status in done:
            return status
    return "Running"


def _result_pod(pods: list[kubernetes.client.V1Pod]) -> str | None:
    def newest_first(pod: kubernetes.client.V1Pod) -> tuple[bool, Any, str]:
        succeeded = bool(pod.status and pod.status.phase == "Succeeded")
        return (succeeded, pod.metadata.creation_timestamp, pod.metadata.name)

    return max(pods, key=newest_first).metadata.name if pods else None


# --- Command line --------------------------------------------------------------

EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_LABEL_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}"
_SELECTOR_TERM = rf"{_LABEL_KEY}(?:=|==|!=)(?:{_LABEL_NAME})?"
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
        prog="python -m components.verify",
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
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:  # argparse exits on bad arguments and --help
        return int(exit_request.code or 0)
    try:
        kubeconfig = Path(args.kubeconfig).read_text(encoding="utf-8")
        api = api_client_from_kubeconfig(kubeconfig)
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
