"""Wait until the usable GPU nodes' allocatable GPUs reach the expected count: list, then watch.

Only nodes a pod can use count (`usability`). Faults no retry cures (401, 403, TLS refusals) end the wait
at once; others back off (honouring a 429's Retry-After) and retry; list pages and read timeouts end with it.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable
from typing import Any, cast

import kubernetes.client
import urllib3
from kubernetes.client.exceptions import ApiException

from aks_gpu.facts.kubernetes import ACCELERATOR_LABEL, GPU_RESOURCE
from aks_gpu.verifier.cluster_watch import PROGRESS_SECONDS, ClusterWatch, WatchPlan
from aks_gpu.verifier.errors import (
    TRANSIENT_STATUSES,
    TRANSPORT_ERRORS,
    DiagnosedFault,
    GpuTimeoutError,
    VerificationError,
    access_error,
    describe,
    read_body,
    retry_after,
    status_message,
    trust_error,
)
from aks_gpu.verifier.messages import timeout_message
from aks_gpu.verifier.report import GpuNode, GpuReport
from aks_gpu.verifier.retry import Backoff, Deadline, cut, without_hidden_retries
from aks_gpu.verifier.watch_stream import MalformedWatchLine, WatchEvent, watch_events

DEFAULT_SELECTOR = "=".join(ACCELERATOR_LABEL)
# 500 is what kubectl and client-go informers use: small enough to keep each
# response cheap for the API server, large enough that 5,000 nodes take 10 calls.
LIST_PAGE_SIZE = 500
CONNECT_TIMEOUT = 10.0
# Lets the server end a watch itself (at its timeoutSeconds) before the client's
# read timeout fires, so a quiet watch does not read as a failure.
WATCH_READ_GRACE = 1.0

ProgressFn = Callable[[str], None]
DEFAULT_BACKOFF = Backoff()


class GpuWaiter:
    """List then watch GPU nodes until the usable ones' allocatable `resource` reaches `expected`.

    `wait_for_gpus` is the usual entry point; this class exposes the backoff,
    clock, sleep and page size so tests can make retries fast and observable.
    """

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        expected: int,
        timeout: float,
        selector: str = DEFAULT_SELECTOR,
        progress: ProgressFn | None = None,
        *,
        resource: str | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        page_size: int = LIST_PAGE_SIZE,
        watch: ClusterWatch | None = None,
    ) -> None:
        if expected < 0:
            raise ValueError("expected must not be negative")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        without_hidden_retries(api)
        self._core = kubernetes.client.CoreV1Api(api)
        self._server = str(api.configuration.host or "the API server")
        self._expected = expected
        self._timeout = timeout
        self._selector = selector
        self._resource = resource or GPU_RESOURCE
        self._progress = progress or (lambda message: None)
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._page_size = page_size
        self._nodes: dict[str, GpuNode] = {}
        # Running totals over self._nodes, kept by _put/_drop so that a watch
        # event costs the same at 100 and 20,000 nodes (re-summing every node
        # per event made 20,000 nodes appearing one by one take ~150 s).
        self._allocatable_usable = 0
        self._usable_nodes = 0
        # None until a list succeeds, and again whenever the watch has expired.
        self._resource_version: str | None = None
        self._failures = 0
        # 410s since the last watch event: a server that expires every watch
        # must not be listed again at full speed.
        self._expired = 0
        self._last_error: str | None = None
        self._last_progress: tuple[int, int] | None = None
        # The diagnosis watches: their verdict ends the wait, and cuts a blocked node watch.
        self._cluster = watch
        self._response: urllib3.BaseHTTPResponse | None = None
        if watch is not None:
            watch.on_verdict(lambda: cut(self._response) if self._response is not None else None)

    def awaiting(self) -> str:
        """What the wait still waits for, from the running totals (for progress lines)."""
        return (
            f"{self._allocatable_usable}/{self._expected} {self._resource} allocatable on {self._usable_nodes} "
            f"usable of {len(self._nodes)} GPU node(s)"
        )

    def _diagnosed(self) -> None:
        """Raise DiagnosedFault when the diagnosis watches have named a cause."""
        verdict = self._cluster.verdict if self._cluster is not None else None
        if verdict is not None:
            raise DiagnosedFault(f"{verdict.message()}\nWhen diagnosed: {self.awaiting()}.", verdict, self.report())

    def run(self) -> GpuReport:
        """Wait; returns the report once enough GPUs are allocatable, raises GpuTimeoutError or ClusterAccessError."""
        deadline = Deadline(self._timeout, self._clock)
        self._progress(
            f"Waiting up to {self._timeout:g}s for {self._expected} allocatable "
            f"{self._resource} on usable nodes matching {self._selector}"
        )
        while True:
            if self._resource_version is not None and self._allocatable_usable >= self._expected:
                return self.report()
            self._diagnosed()
            if deadline.remaining() <= 0:
                raise GpuTimeoutError(
                    timeout_message(self.report(), self._timeout, self._selector, self._last_error), self.report()
                )
            self._step(deadline)

    def report(self) -> GpuReport:
        """What the nodes advertise now, sorted by node name."""
        nodes = tuple(sorted(self._nodes.values(), key=lambda node: node.name))
        return GpuReport(expected=self._expected, nodes=nodes, resource=self._resource)

    def _step(self, deadline: Deadline) -> None:
        """One list or one watch, turning its failure into a retry or a final error."""
        try:
            if self._resource_version is None:
                self._list(deadline)
            elif not self._watch(deadline) and not self._stopped():
                self._pause("The watch closed without any event", deadline, self._next_failure())
        except ApiException as error:
            if error.status:
                self._on_api_error(error, deadline)
            else:  # the client turns TLS errors into status 0
                self._on_transport_error(error, deadline)
        except TRANSPORT_ERRORS as error:
            self._on_transport_error(error, deadline)
        except MalformedWatchLine as error:
            # Events may have been lost with it: resume from the last good version.
            self._retry_later(str(error), deadline)

    def _put(self, node: GpuNode) -> None:
        """Add or replace one node, updating the running totals in O(1)."""
        self._drop(node.name)
        self._nodes[node.name] = node
        if node.usable:
            self._allocatable_usable += node.allocatable
            self._usable_nodes += 1

    def _drop(self, name: object) -> None:
        """Forget one node (if known), updating the running totals in O(1)."""
        old = self._nodes.pop(name, None) if isinstance(name, str) else None
        if old is not None and old.usable:
            self._allocatable_usable -= old.allocatable
            self._usable_nodes -= 1

    def _replace_all(self, nodes: dict[str, GpuNode]) -> None:
        """Take a complete list's nodes as the state; O(n), once per list, not per event."""
        self._nodes = nodes
        usable = [node for node in nodes.values() if node.usable]
        self._allocatable_usable = sum(node.allocatable for node in usable)
        self._usable_nodes = len(usable)

    def _list(self, deadline: Deadline) -> None:
        nodes: dict[str, GpuNode] = {}
        token: str | None = None
        while True:
            page = self._list_page(token, deadline)
            for item in page.get("items") or []:
                with contextlib.suppress(ValueError, AttributeError):  # an item without a name counts for nothing
                    node = GpuNode.from_api(item, self._resource)
                    nodes[node.name] = node
                    self._observe(item)
            found = page.get("metadata")
            metadata: dict[str, Any] = found if isinstance(found, dict) else {}
            token = metadata.get("continue")
            if not token:
                break
            if deadline.remaining() <= 0:
                self._last_error = "the node list was still incomplete at the deadline"
                return
        version = metadata.get("resourceVersion")
        if not isinstance(version, str) or not version:
            raise VerificationError("The API server's node list has no resourceVersion to watch from.")
        # Only a complete list replaces the state: a list cut short by an error
        # must not make nodes disappear.
        self._replace_all(nodes)
        self._resource_version = version
        self._succeeded()

    def _list_page(self, token: str | None, deadline: Deadline) -> dict[str, Any]:
        # Raw JSON: building V1Node models for thousands of nodes costs far more
        # than the request itself.
        response = self._raw_list_node(
            label_selector=self._selector,
            limit=self._page_size,
            _continue=token,
            _request_timeout=self._request_timeout(deadline, grace=0.0),
        )
        try:
            page = json.loads(read_body(response))
        except ValueError:
            page = None
        if not isinstance(page, dict):
            # A proxy's HTML page or a list cut short: transient, so listed again.
            raise MalformedWatchLine("the API server's node list was not a JSON object (truncated, or a proxy's page)")
        return page

    def _raw_list_node(self, **options: Any) -> urllib3.BaseHTTPResponse:
        # With _preload_content=False the client returns the HTTP response, not
        # the V1NodeList its annotation names.
        return cast(urllib3.BaseHTTPResponse, self._core.list_node(_preload_content=False, **options))

    def _watch(self, deadline: Deadline) -> bool:
        """Apply watch events until the GPUs are there, the deadline passes or the stream ends.

        Returns whether any event arrived.
        """
        response = self._raw_list_node(
            watch=True,
            label_selector=self._selector,
            resource_version=self._resource_version,
            allow_watch_bookmarks=True,
            # The server ends the watch by the deadline; whole seconds, at least 1.
            timeout_seconds=max(1, math.floor(deadline.remaining())),
            _request_timeout=self._request_timeout(deadline, grace=WATCH_READ_GRACE),
        )
        received = False
        # Set before the verdict is checked: a verdict after this check finds the response to cut.
        self._response = response
        try:
            if self._stopped():
                return True
            for event in watch_events(response):
                received = True
                self._apply(event)
                if self._allocatable_usable >= self._expected or deadline.remaining() <= 0 or self._stopped():
                    break
        except TRANSPORT_ERRORS:
            if not self._stopped():
                raise  # a read cut by the verdict is no failure
        finally:
            self._response = None
            response.close()
            response.release_conn()
        return received

    def _apply(self, event: WatchEvent) -> None:
        if event.type in ("ADDED", "MODIFIED"):
            try:
                gpu_node = GpuNode.from_api(event.object, self._resource)
            except (ValueError, AttributeError):
                raise MalformedWatchLine(f"the watch sent a {event.type} event without a node name") from None
            self._put(gpu_node)
            self._observe(event.object)
        elif event.type == "DELETED":
            metadata = event.object.get("metadata")
            self._drop(metadata.get("name") if isinstance(metadata, dict) else None)
        self._resource_version = event.resource_version or self._resource_version
        self._expired = 0
        self._succeeded()

    def _observe(self, node: dict[str, Any]) -> None:
        if self._cluster is not None:
            self._cluster.observe_node(node)

    def _stopped(self) -> bool:
        return self._cluster is not None and self._cluster.verdict is not None

    def _request_timeout(self, deadline: Deadline, grace: float) -> tuple[float, float]:
        # The read timeout ends a connection that silently died, and keeps a
        # slow server from holding the check past its deadline. The client
        # rejects zero timeouts.
        remaining = max(deadline.remaining(), 0.1)
        return (min(CONNECT_TIMEOUT, remaining), remaining + grace)

    def _on_api_error(self, error: ApiException, deadline: Deadline) -> None:
        if error.status in (401, 403):
            raise access_error(
                error, "list and watch nodes", "list and watch on nodes", self._core.api_client.configuration
            ) from None
        if error.status == 410:
            self._resource_version = None
            self._expired += 1
            if self._expired == 1:
                self._progress("The watch expired (410 Gone); listing the nodes again")
            else:
                self._pause("The watch expired again (410 Gone)", deadline, self._expired - 1)
            return
        if error.status in TRANSIENT_STATUSES:
            self._retry_later(describe(error), deadline, at_least=retry_after(error))
            return
        detail = status_message(error)
        raise VerificationError(
            f"The API server refused to list nodes matching {self._selector}: "
            f"{describe(error)}{'; ' + detail if detail else ''}"
        ) from None

    def _on_transport_error(self, error: Exception, deadline: Deadline) -> None:
        untrusted = trust_error(error, self._server)
        if untrusted is not None:
            raise untrusted from None
        self._retry_later(describe(error, self._server), deadline)

    def _retry_later(self, reason: str, deadline: Deadline, at_least: float | None = None) -> None:
        self._last_error = reason
        self._pause(f"API error ({reason})", deadline, self._next_failure(), at_least)

    def _next_failure(self) -> int:
        self._failures += 1
        return self._failures

    def _pause(self, reason: str, deadline: Deadline, failures: int, at_least: float | None = None) -> None:
        if deadline.remaining() <= 0 or self._stopped():
            return  # the run loop reports the timeout
        # A server's Retry-After is its own estimate of when it can answer again.
        delay = min(max(self._backoff.delay(failures, self._rng), at_least or 0.0), deadline.remaining())
        self._progress(f"{reason}; retrying in {delay:.1f}s")
        self._sleep(delay)

    def _succeeded(self) -> None:
        self._failures = 0
        self._last_error = None
        # Running totals: this runs on every event, so it must not walk the nodes.
        counts = (len(self._nodes), self._allocatable_usable)
        if counts != self._last_progress:
            self._last_progress = counts
            self._progress(
                f"{counts[1]}/{self._expected} {self._resource} allocatable on {self._usable_nodes} usable of "
                f"{counts[0]} node(s) matching {self._selector}"
            )


def wait_for_gpus(
    api: kubernetes.client.ApiClient,
    expected: int,
    timeout: float,
    selector: str = DEFAULT_SELECTOR,
    progress: ProgressFn | None = None,
    resource: str | None = None,
    *,
    plugin_namespace: str | None = None,
    progress_every: float = PROGRESS_SECONDS,
) -> GpuReport:
    """Wait until the usable nodes matching `selector` have `expected` allocatable `resource`, diagnosing on the way.

    `resource` defaults to nvidia.com/gpu; with MIG and the mixed strategy it is
    nvidia.com/mig-<profile>. Nodes that are not Ready, cordoned or carry a
    node-lifecycle taint are reported but not counted. With `expected` 0 it
    only records what is there (a pool scaled to zero).

    While waiting it watches the device plugin's pods in `plugin_namespace` (when
    given) and the GPU nodes' conditions, and reports progress every
    `progress_every` seconds. Raises DiagnosedFault as soon as the cluster names
    a cause waiting cannot cure (see `diagnosis`), GpuTimeoutError (with the
    last report) when `timeout` seconds pass first, and ClusterAccessError at
    once on 401, 403 or an untrusted server certificate.
    """
    without_hidden_retries(api)
    waiters: list[GpuWaiter] = []
    with ClusterWatch(
        api,
        WatchPlan(plugin_namespace=plugin_namespace),
        progress=progress,
        awaiting=lambda: waiters[0].awaiting() if waiters else "",
        progress_every=progress_every,
    ) as watch:
        waiter = GpuWaiter(api, expected, timeout, selector, progress, resource=resource, watch=watch, sleep=watch.wait)
        waiters.append(waiter)
        return waiter.run()
