"""List, then watch, one kind of object in a background thread, handing each change to a callback.

The diagnosis watches (pods, events, the Job, nodes) run next to the GPU
waiter. They follow the API server's protocol as the waiter does: a paged list
gives a resourceVersion, a watch resumes from it, 410 Gone lists again,
transient failures back off. Unlike the waiter's node watch they are advisory:
when the identity may not read them (401/403) the thread says so once and ends,
and the wait carries on without that part of the diagnosis.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import kubernetes.client
import urllib3
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier.errors import TRANSPORT_ERRORS, describe, read_body
from aks_gpu.verifier.retry import cut
from aks_gpu.verifier.watch_stream import MalformedWatchLine, watch_events

Kind = Literal["pods", "events", "jobs", "nodes"]
ChangeFn = Callable[[str, dict[str, Any]], None]
PAGE_SIZE = 500
# A watch is renewed this often even when quiet, so a silently dead connection costs at most this.
WATCH_SECONDS = 290
CONNECT_TIMEOUT = 10.0
READ_GRACE = 5.0
BACKOFF_INITIAL, BACKOFF_MAX = 0.5, 10.0


@dataclass(frozen=True)
class WatchTarget:
    """What to watch: a kind, its namespace (None for nodes) and optional label and field selectors."""

    kind: Kind
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    def describe(self) -> str:
        """For messages: 'pods in gpu (app=x)'."""
        where = f" in {self.namespace}" if self.namespace else ""
        selectors = ", ".join(filter(None, (self.label_selector, self.field_selector)))
        return f"{self.kind}{where}{f' ({selectors})' if selectors else ''}"


class ListWatch(threading.Thread):
    """A daemon thread that lists then watches `target`, calling `on_change(type, object)` for each change.

    `stop()` ends it promptly, also from inside a blocked read. Items of a list
    arrive as ADDED (a re-list after 410 repeats them: the callback must accept
    that); a 401/403 calls `on_refused(message)` once and ends the thread.
    """

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        target: WatchTarget,
        on_change: ChangeFn,
        on_refused: Callable[[str], None],
        stop_event: threading.Event,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=f"watch-{target.kind}", daemon=True)
        self._core = kubernetes.client.CoreV1Api(api)
        self._batch = kubernetes.client.BatchV1Api(api)
        self._target = target
        self._on_change = on_change
        self._on_refused = on_refused
        self._stop_event = stop_event
        self._rng = rng or random.Random()
        self._response: urllib3.BaseHTTPResponse | None = None
        self._lock = threading.Lock()
        self._version: str | None = None
        self._failures = 0
        self.changes = 0

    def stop(self) -> None:
        """Ask the thread to end and cut its open request (a blocked read returns at once)."""
        self._stop_event.set()
        with self._lock:
            response = self._response
        if response is not None:
            cut(response)

    def run(self) -> None:
        """List and watch until stopped or refused."""
        while not self._stop_event.is_set():
            try:
                if self._version is None:
                    self._list()
                else:
                    self._watch()
            except ApiException as error:
                if error.status in (401, 403):
                    self._on_refused(f"cannot read {self._target.describe()} ({describe(error)})")
                    return
                if error.status == 410:
                    self._version = None
                    continue
                self._pause()
            except (*TRANSPORT_ERRORS, MalformedWatchLine, ValueError):
                if self._stop_event.is_set():
                    return
                # A watch resumes from its last good version; a list starts again.
                self._pause()

    def _pause(self) -> None:
        self._failures += 1
        base = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (self._failures - 1))
        self._stop_event.wait(base / 2 + self._rng.uniform(0, base / 2))

    def _call(self, **options: Any) -> urllib3.BaseHTTPResponse:
        target = self._target
        selectors = {
            "label_selector": target.label_selector,
            "field_selector": target.field_selector,
            "_preload_content": False,
        }
        options.update({k: v for k, v in selectors.items() if v is not None})
        namespace = target.namespace or ""
        found: object
        if target.kind == "nodes":
            found = self._core.list_node(**options)
        elif target.kind == "pods":
            found = self._core.list_namespaced_pod(namespace, **options)
        elif target.kind == "events":
            found = self._core.list_namespaced_event(namespace, **options)
        else:
            found = self._batch.list_namespaced_job(namespace, **options)
        # With _preload_content=False the client returns the HTTP response, not the model its annotation names.
        return cast(urllib3.BaseHTTPResponse, found)

    def _list(self) -> None:
        token: str | None = None
        while True:
            response = self._call(limit=PAGE_SIZE, _continue=token, _request_timeout=(CONNECT_TIMEOUT, 60.0))
            page = json.loads(read_body(response))
            if not isinstance(page, dict):
                raise MalformedWatchLine(f"the list of {self._target.describe()} was not a JSON object")
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    self._deliver("ADDED", item)
            found = page.get("metadata")
            metadata: dict[str, Any] = found if isinstance(found, dict) else {}
            token = metadata.get("continue") or None
            if token is None or self._stop_event.is_set():
                break
        version = metadata.get("resourceVersion")
        self._version = version if isinstance(version, str) and version else "0"
        self._failures = 0

    def _watch(self) -> None:
        response = self._call(
            watch=True,
            resource_version=self._version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=(CONNECT_TIMEOUT, WATCH_SECONDS + READ_GRACE),
        )
        with self._lock:
            self._response = response
        try:
            if self._stop_event.is_set():
                return  # stopped before the response could be cut
            for event in watch_events(response):
                if self._stop_event.is_set():
                    return
                self._version = event.resource_version or self._version
                if event.type in ("ADDED", "MODIFIED", "DELETED"):
                    self._deliver(event.type, event.object)
                self._failures = 0
        finally:
            with self._lock:
                self._response = None
            response.close()
            response.release_conn()

    def _deliver(self, change: str, item: dict[str, Any]) -> None:
        self.changes += 1
        self._on_change(change, item)
