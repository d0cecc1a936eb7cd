"""Wait until the GPU nodes' allocatable GPUs reach the expected count: list, then watch."""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch

from aks_gpu.facts.kubernetes import ACCELERATOR_LABEL, GPU_RESOURCE, SPOT_TAINT
from aks_gpu.verifier.errors import (
    TRANSIENT_STATUSES,
    TRANSPORT_ERRORS,
    GpuTimeoutError,
    VerificationError,
    access_error,
    describe,
    read_body,
    status_message,
)
from aks_gpu.verifier.report import GpuNode, GpuReport

DEFAULT_SELECTOR = "=".join(ACCELERATOR_LABEL)
# 500 is what kubectl and client-go informers use: small enough to keep each
# response cheap for the API server, large enough that 5,000 nodes take 10 calls.
LIST_PAGE_SIZE = 500
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT_GRACE = 5.0

ProgressFn = Callable[[str], None]

USUAL_CAUSES = (
    "the NVIDIA device plugin does not tolerate the GPU pool's taints (e.g. sku=gpu:NoSchedule) "
    f"or the spot taint {SPOT_TAINT}",
    "the device plugin DaemonSet is not running on the GPU nodes, or runs a wrong image",
    "the NVIDIA driver install is still in progress or failed (capacity stays 0 on a GPU VM)",
    "the nodes are still provisioning, or the autoscaler keeps the GPU pool at 0 nodes",
    ("the subscription has no GPU quota for this VM family in the region, so the pool cannot scale up"),
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between retries of failed API calls."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 10.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after `failures` consecutive failures."""
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
        """Wait; returns the report once enough GPUs are allocatable, raises GpuTimeoutError or ClusterAccessError."""
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
            except TRANSPORT_ERRORS as error:
                self._retry_later(describe(error), deadline)

    def report(self) -> GpuReport:
        """What the nodes advertise now, sorted by node name."""
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
            return json.loads(read_body(response))
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
            raise access_error(error, "list and watch nodes", "list and watch on nodes") from None
        if error.status == 410:
            self._progress("The watch expired (410 Gone); listing the nodes again")
            self._resource_version = None
            return
        if error.status in TRANSIENT_STATUSES:
            self._retry_later(describe(error), deadline)
            return
        detail = status_message(error)
        raise VerificationError(
            f"The API server refused to list nodes matching {self._selector}: "
            f"{describe(error)}{'; ' + detail if detail else ''}"
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
