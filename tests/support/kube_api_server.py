"""A small Kubernetes API server for tests and benchmarks, on 127.0.0.1.

It serves what the verifier and its diagnosis read, over real HTTP (or HTTPS
with client certificates), so the official `kubernetes` client is exercised as
it is against a cluster:

- list and watch of nodes (GET /api/v1/nodes), pods and events
  (/api/v1/namespaces/{ns}/pods|events) and Jobs
  (/apis/batch/v1/namespaces/{ns}/jobs): labelSelector and fieldSelector
  (equality terms on any field path, e.g. involvedObject.kind=Pod,
  metadata.name=x), limit/continue and resourceVersion; watch=true streams
  newline-delimited JSON events with chunked transfer encoding, from the
  requested resourceVersion (one resourceVersion sequence for all kinds, as
  etcd's), with BOOKMARK events when allowWatchBookmarks=true. An object
  leaving a watch's selection arrives as DELETED, one entering as ADDED.
- GET /apis/batch/v1/namespaces/{ns}/jobs/{name}
- GET /api/v1/namespaces/{ns}/pods/{name}/log (container, tailLines, and
  previous=true for the crashed instance's log, 400 when there is none)
- POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews: not allowed for
  the first `deny_access_reviews(n)` reviews, allowed afterwards

Tests change nodes while watches are open and inject faults: transient
errors, a watch stream cut mid-way, 410 Gone on a watch resume or on every
watch, a line that is not JSON in a watch, a delay before every answer,
401/403. Requests are counted (and the latest few thousand kept) so tests
can bound them; the server binds only 127.0.0.1.

Simplifications: a paginated list is served from the current state rather than
a snapshot, and only equality selectors (=, ==, !=) are understood.

The injected watch faults (cut, garbled, expired streams) apply to node
watches only: they target the GPU waiter, not the diagnosis watches beside it.

Cost: each kind's keys are kept sorted as they change (bisect), and a continue
token names the last key served, as the real API server's does, so serving
one page costs O(page + log n) rather than sorting the whole cluster: the
benchmark's rows time the verifier, not this server.
"""

from __future__ import annotations

import base64
import bisect
import collections
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.support.kube_objects import (
    GPU_LABELS,
    cpu_node,
    field_selector_matches,
    gpu_node,
    job,
    lifecycle_taints,
    pod,
    selector_matches,
)

__all__ = ["GPU_LABELS", "KubeApiServer", "TlsFiles", "cpu_node", "gpu_node", "lifecycle_taints"]

DEFAULT_TOKEN = "test-token-4f9c2e7a1b"
NODES_PATH = "/api/v1/nodes"
# The collections served with list and watch; the key of a namespaced object is "namespace/name".
Collection = str
COLLECTIONS = ("nodes", "pods", "events", "jobs")


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, str]

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch") == "true"


@dataclass(frozen=True)
class _Change:
    """One entry of the watch history; BOOKMARKs carry no object change."""

    resource_version: int
    type: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    collection: Collection


@dataclass
class _Faults:
    failures: list[tuple[str, int]] = field(default_factory=list)
    denied: int | None = None
    drop_watch_after: int | None = None
    gone: dict[str, bool] = field(default_factory=dict)
    gone_always: bool | None = None
    garbage: str | None = None
    delay: float = 0.0
    list_garbage: list[tuple[str, bytes]] = field(default_factory=list)
    # The Retry-After header sent with every 429 and 503, as the API server's flow control does.
    retry_after: str | None = None


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for serving HTTPS and requiring a client certificate.

    With `client_cert` and `client_key` the server's kubeconfig() carries the
    CA and the client certificate inline, as an AKS kubeconfig does.
    """

    ca_cert: str
    server_cert: str
    server_key: str
    client_cert: str | None = None
    client_key: str | None = None


# Requests kept for inspection; counts cover every request. A flood of
# requests (the bug some tests guard against) must not exhaust memory.
REQUEST_LOG_LIMIT = 5000


class KubeApiServer:
    """Start with `with KubeApiServer() as server:` (or start()/stop())."""

    def __init__(
        self, token: str | None = DEFAULT_TOKEN, tls: TlsFiles | None = None, max_tls: ssl.TLSVersion | None = None
    ) -> None:
        self.token = token
        self._tls = tls
        # TLS 1.2 refuses a client certificate inside the handshake, so the client always reads the
        # alert; with 1.3 the alert races the client's first read and may arrive as a plain EOF.
        self._max_tls = max_tls
        self._lock = threading.Condition()
        # Per collection: objects by key ("name", or "namespace/name"), and the keys
        # in order, kept as objects come and go, so a list page never sorts the cluster.
        self._objects: dict[Collection, dict[str, dict[str, Any]]] = {c: {} for c in COLLECTIONS}
        self._keys: dict[Collection, list[str]] = {c: [] for c in COLLECTIONS}
        self._history: list[_Change] = []
        self._resource_version = 100
        # Container logs by (namespace, pod, container or None, previous).
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}
        self._faults = _Faults()
        self._requests: collections.deque[Request] = collections.deque(maxlen=REQUEST_LOG_LIMIT)
        self._counts: collections.Counter[tuple[str, bool]] = collections.Counter()
        # Watch streams opened, per collection (wait_for_watch counts the node watches).
        self._opened: collections.Counter[Collection] = collections.Counter()
        self._reviews_to_deny = 0
        self.access_reviews: list[dict[str, Any]] = []
        self._stopping = False
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> KubeApiServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        httpd.daemon_threads = True
        if self._tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self._tls.ca_cert)
            context.verify_mode = ssl.CERT_REQUIRED
            if self._max_tls is not None:
                context.maximum_version = self._max_tls
            context.load_cert_chain(self._tls.server_cert, self._tls.server_key)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, args=(0.05,), name="kube-api-server", daemon=True).start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd, "server not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def kubeconfig(
        self,
        token: str | None = None,
        *,
        ca_data: bytes | None = None,
        client_cert_data: bytes | None = None,
        client_key_data: bytes | None = None,
    ) -> str:
        """Kubeconfig YAML for this server; the token defaults to the server's.

        Over HTTPS the CA and client certificate default to the server's TLS files.
        """
        if self._tls and self._tls.client_cert and self._tls.client_key:
            ca_data = ca_data or Path(self._tls.ca_cert).read_bytes()
            client_cert_data = client_cert_data or Path(self._tls.client_cert).read_bytes()
            client_key_data = client_key_data or Path(self._tls.client_key).read_bytes()
        cluster: dict[str, Any] = {"server": self.url}
        user: dict[str, Any] = {}
        if token or self.token:
            user["token"] = token or self.token
        for key, data, target in (
            ("certificate-authority-data", ca_data, cluster),
            ("client-certificate-data", client_cert_data, user),
            ("client-key-data", client_key_data, user),
        ):
            if data:
                target[key] = base64.b64encode(data).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": cluster}],
            "users": [{"name": "tester", "user": user}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "tester"}}],
            "current-context": "test",
        }
        return yaml.safe_dump(config)

    # --- state ---------------------------------------------------------------------

    def put_nodes(self, nodes: Iterable[dict[str, Any]]) -> str:
        """Add or replace nodes (one resourceVersion each); returns the last one."""
        return self.put_objects("nodes", nodes)

    def put_node(self, node: dict[str, Any]) -> str:
        return self.put_nodes([node])

    def delete_node(self, name: str) -> str:
        return self.delete_object("nodes", name)

    def put_objects(self, collection: Collection, objects: Iterable[dict[str, Any]]) -> str:
        """Add or replace objects of `collection` (nodes, pods, events, jobs); returns the last resourceVersion."""
        with self._lock:
            for obj in objects:
                key = _key(obj)
                store = self._objects[collection]
                old = store.get(key)
                if old is None:
                    bisect.insort(self._keys[collection], key)
                store[key] = self._record(collection, "MODIFIED" if old else "ADDED", old, obj)
            self._lock.notify_all()
            return str(self._resource_version)

    def put_object(self, collection: Collection, obj: dict[str, Any]) -> str:
        return self.put_objects(collection, [obj])

    def delete_object(self, collection: Collection, key: str) -> str:
        """Delete the object with `key` ("name" for nodes, else "namespace/name")."""
        with self._lock:
            self._record(collection, "DELETED", self._objects[collection].pop(key), None)
            keys = self._keys[collection]
            del keys[bisect.bisect_left(keys, key)]
            self._lock.notify_all()
            return str(self._resource_version)

    def get_object(self, collection: Collection, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects[collection].get(key)

    def set_log(
        self, namespace: str, pod_name: str, log: str, *, container: str | None = None, previous: bool = False
    ) -> None:
        """The log `?previous=true` (the crashed instance) or the current one serves for the pod's container."""
        with self._lock:
            self._logs[(namespace, pod_name, container, previous)] = log

    def bookmark(self) -> None:
        """Send a BOOKMARK with the current resourceVersion to open watches."""
        with self._lock:
            self._history.append(_Change(self._resource_version, "BOOKMARK", None, None, ""))
            self._lock.notify_all()

    def _record(
        self, collection: Collection, event_type: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Append a change at the next resourceVersion; returns the stored object."""
        self._resource_version += 1
        # Stamp a copy: callers may reuse the dict they passed in.
        stored = json.loads(json.dumps(new if new is not None else old))
        stored["metadata"]["resourceVersion"] = str(self._resource_version)
        if new is None:  # a DELETED event carries the last state, at the deletion's version
            self._history.append(_Change(self._resource_version, event_type, stored, None, collection))
        else:
            self._history.append(_Change(self._resource_version, event_type, old, stored, collection))
        return stored

    def put_job(self, namespace: str, name: str, conditions: list[dict[str, str]]) -> None:
        self.put_object("jobs", job(namespace, name, conditions))

    def put_pod(
        self,
        namespace: str,
        name: str,
        *,
        job: str,
        phase: str,
        created: str,
        log: str,
        node: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        """A finished Job pod with its log (the result readers' view)."""
        labels = {"job-name": job, "batch.kubernetes.io/job-name": job}
        self.put_object(
            "pods",
            pod(namespace, name, labels=labels, node=node, phase=phase, created=created, annotations=annotations),
        )
        self.set_log(namespace, name, log)

    # --- faults ------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, path: str = NODES_PATH) -> None:
        """Answer the next `count` requests to `path` with `status`."""
        with self._lock:
            self._faults.failures.extend([(path, status)] * count)

    def send_retry_after(self, value: str | None) -> None:
        """Send `Retry-After: value` with every 429 and 503 answer (None stops it)."""
        self._faults.retry_after = value

    def deny(self, status: int | None) -> None:
        """Answer every request with 401 or 403 (None stops it)."""
        self._faults.denied = status

    def deny_access_reviews(self, count: int) -> None:
        """Answer the next `count` SelfSubjectAccessReviews with allowed: false (a role not yet propagated)."""
        self._reviews_to_deny = count

    def _review(self, review: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.access_reviews.append(review)
            allowed = self._reviews_to_deny <= 0
            self._reviews_to_deny -= 1
        return {**review, "status": {"allowed": allowed}}

    def drop_next_watch(self, after_events: int = 0) -> None:
        """Cut the next watch stream after it delivered `after_events` events."""
        self._faults.drop_watch_after = after_events

    def expire_every_watch(self, as_event: bool = True) -> None:
        """Answer every watch with 410 Gone (as `expire_watch_from` does for one)."""
        self._faults.gone_always = as_event

    def garble_next_list(self, body: bytes = b"<html>502 Bad Gateway</html>", content_type: str = "text/html") -> None:
        """Answer the next node list with 200 and `body` (a proxy's page, or a truncated JSON list)."""
        with self._lock:
            self._faults.list_garbage.append((content_type, body))

    def _take_list_garbage(self) -> tuple[str, bytes] | None:
        with self._lock:
            return self._faults.list_garbage.pop(0) if self._faults.list_garbage else None

    def garble_next_watch(self, line: str = "<html>502 Bad Gateway</html>") -> None:
        """Send `line` (not a JSON event) first in the next watch stream, then end that stream."""
        self._faults.garbage = line

    def delay_every_request(self, seconds: float) -> None:
        """Wait `seconds` before answering each request, like an overloaded API server."""
        self._faults.delay = seconds

    def expire_watch_from(self, resource_version: str, as_event: bool = True) -> None:
        """Answer the next watch from `resource_version` with 410 Gone, as an
        ERROR event in a 200 stream (what the API server does) or as HTTP 410."""
        self._faults.gone[resource_version] = as_event

    # --- observations ------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str = NODES_PATH, *, watch: bool | None = None) -> int:
        """Requests to `path` since the start (only watches, only others, or both)."""
        with self._lock:
            return sum(n for (p, is_watch), n in self._counts.items() if p == path and watch in (None, is_watch))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        with self._lock:
            if not self._lock.wait_for(condition, timeout):
                raise AssertionError("the test server did not reach the expected state")

    def wait_for_watch(self, number: int = 1, timeout: float = 10.0, collection: Collection = "nodes") -> None:
        """Block until the `number`-th watch stream of `collection` since the start is open."""
        self.wait_until(lambda: self._opened[collection] >= number, timeout)

    # --- request handling (called from the handler threads) -------------------

    def _admit(self, request: Request, authorization: str | None) -> tuple[int, str] | None:
        """Record the request; return an error (status, reason) to answer with, if any."""
        with self._lock:
            self._requests.append(request)
            self._counts[(request.path, request.is_watch)] += 1
            self._lock.notify_all()
            if self._faults.delay:
                # Interrupted by stop(), so a slow test server never outlives its test.
                self._lock.wait_for(lambda: self._stopping, timeout=self._faults.delay)
            if self.token and authorization != f"Bearer {self.token}":
                return 401, "Unauthorized"
            if self._faults.denied:
                return self._faults.denied, HTTPStatus(self._faults.denied).phrase
            for index, (path, status) in enumerate(self._faults.failures):
                if path == request.path:
                    del self._faults.failures[index]
                    return status, "injected failure"
        return None

    def _list_nodes(self, query: dict[str, str]) -> dict[str, Any]:
        return self._list("nodes", None, query)

    def _list(self, collection: Collection, namespace: str | None, query: dict[str, str]) -> dict[str, Any]:
        """One page of `collection` (in `namespace`), as the API server pages: limit, continue, resourceVersion."""
        match = _matcher(query)
        keys = self._keys[collection]
        prefix = f"{namespace}/" if namespace else ""
        with self._lock:
            after, snapshot = _decode_continue(query.get("continue"), self._resource_version)
            limit = int(query.get("limit") or 0) or len(keys)
            # Walk the sorted keys from the last key served: a page costs its
            # own size (plus the objects the selectors skip), not the cluster's.
            index = bisect.bisect_right(keys, after) if after is not None else bisect.bisect_left(keys, prefix)
            page: list[dict[str, Any]] = []
            while len(page) < limit and (index := self._next_match(collection, index, prefix, match)) < len(keys):
                page.append(self._objects[collection][keys[index]])
                index += 1
            # Peeking for one more match is amortised: the next page starts there.
            more = self._next_match(collection, index, prefix, match) < len(keys)
            remaining = len(keys) - index
        metadata: dict[str, Any] = {"resourceVersion": str(snapshot)}
        if page and more:
            metadata["continue"] = _encode_continue(_key(page[-1]), snapshot)
            if not query.get("labelSelector") and not query.get("fieldSelector") and not namespace:
                # The real API server gives the count only for lists without selectors.
                metadata["remainingItemCount"] = remaining
        kind = {"nodes": "NodeList", "pods": "PodList", "events": "EventList", "jobs": "JobList"}[collection]
        return {
            "kind": kind,
            "apiVersion": "batch/v1" if collection == "jobs" else "v1",
            "metadata": metadata,
            "items": page,
        }

    def _next_match(
        self, collection: Collection, index: int, prefix: str, match: Callable[[dict[str, Any]], bool]
    ) -> int:
        """The first position at or after `index` whose object matches (len(keys) if none, or past the namespace)."""
        keys = self._keys[collection]
        while index < len(keys):
            if not keys[index].startswith(prefix):
                return len(keys)
            if match(self._objects[collection][keys[index]]):
                return index
            index += 1
        return index

    def _watch_start(self, resource_version: str, faults: bool = True) -> tuple[int, bool | None]:
        """History index to stream from, and whether (and how) to answer 410."""
        with self._lock:
            gone = self._faults.gone.pop(resource_version, self._faults.gone_always) if faults else None
            # History is appended in resourceVersion order: bisect, not a scan.
            start = bisect.bisect_right(self._history, int(resource_version), key=lambda c: c.resource_version)
            return start, gone

    def _next_events(
        self, cursor: int, until: float, query: dict[str, str], collection: Collection, namespace: str | None
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """Wait for history past `cursor`; None when the watch should end."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._stopping or len(self._history) > cursor, timeout=max(0.0, until - time.monotonic())
            )
            if self._stopping or len(self._history) <= cursor:
                return None
            changes = self._history[cursor:]
        events = [e for c in changes if (e := _event_for(c, query, collection, namespace)) is not None]
        return cursor + len(changes), events

    def _watch_opened(self, collection: Collection = "nodes") -> None:
        with self._lock:
            self._opened[collection] += 1
            self._lock.notify_all()

    def _take_garbage(self) -> str | None:
        with self._lock:
            line, self._faults.garbage = self._faults.garbage, None
            return line

    def _take_drop(self) -> int | None:
        with self._lock:
            after, self._faults.drop_watch_after = self._faults.drop_watch_after, None
            return after


def _key(obj: dict[str, Any]) -> str:
    metadata = obj["metadata"]
    return f"{metadata['namespace']}/{metadata['name']}" if metadata.get("namespace") else metadata["name"]


def _matcher(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    labels, fields = query.get("labelSelector"), query.get("fieldSelector")
    return lambda obj: (
        selector_matches(labels, obj["metadata"].get("labels") or {}) and field_selector_matches(fields, obj)
    )


def _event_for(
    change: _Change, query: dict[str, str], collection: Collection, namespace: str | None
) -> dict[str, Any] | None:
    """The event a watcher with this query sees for a change, as the API server
    does it: an object leaving the selection is DELETED, one entering is ADDED."""
    if change.type == "BOOKMARK":
        if query.get("allowWatchBookmarks") != "true":
            return None
        metadata = {"resourceVersion": str(change.resource_version)}
        return {"type": "BOOKMARK", "object": {"kind": "Node", "apiVersion": "v1", "metadata": metadata}}
    if change.collection != collection:
        return None
    match = _matcher(query)

    def selected(obj: dict[str, Any] | None) -> bool:
        return obj is not None and (namespace is None or obj["metadata"].get("namespace") == namespace) and match(obj)

    was, now = selected(change.old), selected(change.new)
    if was and now:
        return {"type": "MODIFIED", "object": change.new}
    if now:
        return {"type": "ADDED", "object": change.new}
    if was:
        return {"type": "DELETED", "object": change.new or change.old}
    return None


def _encode_continue(last_name: str, snapshot: int) -> str:
    # Like the API server's token: the last key served, not an offset, so
    # nodes added or removed before it do not shift the next page.
    return base64.urlsafe_b64encode(json.dumps({"start": last_name, "rv": snapshot}).encode()).decode()


def _decode_continue(token: str | None, current: int) -> tuple[str | None, int]:
    if not token:
        return None, current
    decoded = json.loads(base64.urlsafe_b64decode(token))
    return decoded["start"], decoded["rv"]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _handler_for(server: KubeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        api = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Like the real API server (Go sets TCP_NODELAY): a watch event must not
    # wait for the client's delayed ACK of the previous write.
    disable_nagle_algorithm = True
    api: KubeApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests read the request log instead."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        request = Request(url.path, query)
        refusal = self.api._admit(request, self.headers.get("Authorization"))
        if refusal:
            status, reason = refusal
            self._send_json(status, _status(status, reason.replace(" ", ""), f"{reason} ({url.path})"))
            return
        self._route(url.path.strip("/").split("/"), query)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        refusal = self.api._admit(Request(url.path, {}), self.headers.get("Authorization"))
        if refusal:
            status, reason = refusal
            self._send_json(status, _status(status, reason.replace(" ", ""), f"{reason} ({url.path})"))
            return
        if url.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            self._send_json(201, self.api._review(json.loads(body or b"{}")))
            return
        self._send_json(404, _status(404, "NotFound", "the server could not find the requested resource"))

    def _route(self, parts: list[str], query: dict[str, str]) -> None:
        match parts:
            case ["api", "v1", "nodes"] if (
                query.get("watch") != "true" and (garbage := self.api._take_list_garbage()) is not None
            ):
                self._send(200, *garbage)
            case ["api", "v1", "nodes"]:
                self._collection("nodes", None, query)
            case ["api", "v1", "namespaces", namespace, ("pods" | "events") as collection]:
                self._collection(collection, namespace, query)
            case ["apis", "batch", "v1", "namespaces", namespace, "jobs"]:
                self._collection("jobs", namespace, query)
            case ["apis", "batch", "v1", "namespaces", namespace, "jobs", name]:
                self._send_found(self.api.get_object("jobs", f"{namespace}/{name}"), "jobs", name)
            case ["api", "v1", "namespaces", namespace, "pods", name, "log"]:
                self._send_log(namespace, name, query)
            case _:
                self._send_json(404, _status(404, "NotFound", "the server could not find the requested resource"))

    def _collection(self, collection: Collection, namespace: str | None, query: dict[str, str]) -> None:
        if query.get("watch") == "true":
            self._watch(collection, namespace, query)
        else:
            self._send_json(200, self.api._list(collection, namespace, query))

    def _send_found(self, obj: dict[str, Any] | None, kind: str, name: str) -> None:
        if obj is None:
            self._send_json(404, _status(404, "NotFound", f'{kind} "{name}" not found'))
        else:
            self._send_json(200, obj)

    def _send_log(self, namespace: str, name: str, query: dict[str, str]) -> None:
        """The container's log, as the kubelet serves it: `container`, `previous=true`, `tailLines`."""
        if self.api.get_object("pods", f"{namespace}/{name}") is None:
            self._send_found(None, "pods", name)
            return
        previous = query.get("previous") == "true"
        logs = self.api._logs
        log = logs.get((namespace, name, query.get("container"), previous), logs.get((namespace, name, None, previous)))
        if log is None:
            which = "previous terminated container" if previous else "container"
            message = f'{which} "{query.get("container") or "main"}" in pod "{name}" not found'
            self._send_json(400, _status(400, "BadRequest", message))
            return
        lines = log.splitlines(keepends=True)
        tail = int(query.get("tailLines") or len(lines))
        self._send(200, "text/plain", "".join(lines[-tail:] if tail else []).encode())

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        if status in (429, 503) and self.api._faults.retry_after is not None:
            self.send_header("Retry-After", self.api._faults.retry_after)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # --- watch ---------------------------------------------------------------------

    def _watch(self, collection: Collection, namespace: str | None, query: dict[str, str]) -> None:
        if not query.get("resourceVersion"):
            # The verifier always watches from a list; serving "from now" would hide a bug.
            self._send_json(400, _status(400, "BadRequest", "test server: watch needs a resourceVersion"))
            return
        # The injected watch faults are the node watch's (the GPU waiter's); the other watches are left alone.
        faults = collection == "nodes"
        cursor, gone = self.api._watch_start(query["resourceVersion"], faults)
        if gone is False:
            self._send_json(410, _status(410, "Expired", "too old resource version"))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        garbage = None if gone or not faults else self.api._take_garbage()
        try:
            if gone:
                self._write_chunk({"type": "ERROR", "object": _status(410, "Expired", "too old resource version")})
            elif garbage is not None:
                self.api._watch_opened()
                self._write_line(garbage.encode())
            else:
                self._stream(cursor, query, collection, namespace, faults)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except _DroppedStream:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(
        self, cursor: int, query: dict[str, str], collection: Collection, namespace: str | None, faults: bool
    ) -> None:
        until = time.monotonic() + int(query.get("timeoutSeconds") or 1800)
        drop_after = self.api._take_drop() if faults else None
        sent = 0
        self.api._watch_opened(collection)
        while True:
            if sent == drop_after:
                raise _DroppedStream
            batch = self.api._next_events(cursor, until, query, collection, namespace)
            if batch is None:
                return
            cursor, events = batch
            for event in events[: None if drop_after is None else drop_after - sent]:
                self._write_chunk(event)
                sent += 1

    def _write_chunk(self, event: dict[str, Any]) -> None:
        self._write_line(json.dumps(event).encode())

    def _write_line(self, line: bytes) -> None:
        data = line + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


class _DroppedStream(Exception):
    """Raised to cut a watch stream without its terminating chunk."""
