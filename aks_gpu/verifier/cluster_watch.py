"""Watch what a wait depends on, and end it the moment the cluster names a cause.

`ClusterWatch` runs one `ListWatch` thread per source (the device plugin's
pods, the workload's pods, their namespaces' pod events, the Job, the GPU
nodes), feeds every change to a `Tracker`, and records the first definitive
`Diagnosis`. The waiter that owns it checks `verdict` and is woken at once:
callbacks registered with `on_verdict` cut its blocked read. A ticker thread
applies the time-based rule (a pod unschedulable past its grace) every second
and reports progress every `progress_every` seconds: the elapsed time, what is
awaited, and what the pods do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import kubernetes.client
import urllib3
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier.cluster_state import PodView
from aks_gpu.verifier.diagnosis import (
    SCHEDULING_GRACE_SECONDS,
    Diagnosis,
    EventsNeeded,
    Finding,
    JobPodsNeeded,
    LogNeeded,
    Role,
    explain_crash,
    explain_pull,
    last_failed_pod,
)
from aks_gpu.verifier.errors import TRANSPORT_ERRORS, describe, read_body
from aks_gpu.verifier.list_watch import ListWatch, WatchTarget
from aks_gpu.verifier.tracker import Tracker, is_plugin_pod

PROGRESS_SECONDS = 30.0
TICK_SECONDS = 1.0
# How long stopping waits for the threads; a list request in flight may hold one longer.
JOIN_SECONDS = 5.0
# Enough of a crashed container's log to find a signature near its end.
LOG_FETCH_LINES = 200
POD_EVENTS = "involvedObject.kind=Pod"


@dataclass(frozen=True)
class WatchPlan:
    """What to watch. Leave a field None to skip that source.

    Attributes:
        plugin_namespace: where the device plugin's pods run (the stack's namespace, or kube-system
            for the AKS-managed plugin); its pods are recognised by name or image.
        workload_namespace: namespace of the workload Job.
        job_name: the workload Job; its pods are selected by `job-name=<job_name>`.
        node_selector: label selector of the GPU nodes, to watch their conditions (the GPU waiter
            feeds its own nodes through `observe_node` instead).
    """

    plugin_namespace: str | None = None
    workload_namespace: str | None = None
    job_name: str | None = None
    node_selector: str | None = None

    def targets(self) -> list[tuple[WatchTarget, str]]:
        """The watches to run, each with its source: plugin-pods, workload-pods, events, job or nodes."""
        found: list[tuple[WatchTarget, str]] = []
        if self.plugin_namespace:
            found.append((WatchTarget("pods", self.plugin_namespace), "plugin-pods"))
        if self.workload_namespace and self.job_name:
            found.append((WatchTarget("pods", self.workload_namespace, f"job-name={self.job_name}"), "workload-pods"))
            found.append(
                (WatchTarget("jobs", self.workload_namespace, field_selector=f"metadata.name={self.job_name}"), "job")
            )
        for namespace in dict.fromkeys(filter(None, (self.plugin_namespace, self.workload_namespace))):
            found.append((WatchTarget("events", namespace, field_selector=POD_EVENTS), "events"))
        if self.node_selector:
            found.append((WatchTarget("nodes", label_selector=self.node_selector), "nodes"))
        return found


class ClusterWatch:
    """Background watches and a ticker; use as a context manager around a wait."""

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        plan: WatchPlan,
        *,
        progress: Callable[[str], None] | None = None,
        awaiting: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.monotonic,
        progress_every: float = PROGRESS_SECONDS,
        scheduling_grace: float = SCHEDULING_GRACE_SECONDS,
    ) -> None:
        self._api = api
        self._plan = plan
        self._progress = progress or (lambda line: None)
        self._awaiting = awaiting
        self._clock = clock
        self._progress_every = progress_every
        self._lock = threading.Condition()
        self._tracker = Tracker(scheduling_grace)
        # Set when the Job itself cannot be read: then no wait can end well.
        self._refusal: str | None = None
        self._stop = threading.Event()
        self._verdict: Diagnosis | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._threads: list[ListWatch] = []
        self._ticker: threading.Thread | None = None
        self._started = clock()
        self._resolving = False

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> ClusterWatch:
        self._started = self._clock()
        for target, source in self._plan.targets():
            thread = ListWatch(self._api, target, self._handler(source), self._refused_for(source), self._stop)
            self._threads.append(thread)
            thread.start()
        self._ticker = threading.Thread(target=self._tick, name="watch-ticker", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End every watch thread and the ticker (their blocked reads are cut), waiting `JOIN_SECONDS` at most.

        Joined, not left running: a daemon thread still reading or writing while
        the interpreter exits can abort the process (SIGABRT at shutdown).
        """
        self._stop.set()
        for thread in self._threads:
            thread.stop()
        with self._lock:
            self._lock.notify_all()
        end = time.monotonic() + JOIN_SECONDS
        threads: list[threading.Thread] = [*self._threads, *([self._ticker] if self._ticker else [])]
        for running in threads:
            if running is not threading.current_thread():
                running.join(max(end - time.monotonic(), 0.0))

    # --- what the waiter asks -------------------------------------------------------

    @property
    def verdict(self) -> Diagnosis | None:
        """The first definitive cause seen, or None."""
        with self._lock:
            return self._verdict

    @property
    def job_done(self) -> bool:
        """Whether the watched Job's Complete condition is True."""
        with self._lock:
            return self._tracker.job_done

    @property
    def job_seen(self) -> bool:
        """Whether the watched Job has been seen at all."""
        with self._lock:
            return self._tracker.job_seen

    @property
    def refusal(self) -> str | None:
        """Why the Job could not be read (401/403), if it could not."""
        with self._lock:
            return self._refusal

    def on_verdict(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from a watch thread) when a verdict arrives: the waiter cuts its blocked read."""
        with self._lock:
            self._callbacks.append(callback)

    def wait(self, timeout: float) -> None:
        """Block until a verdict, the Job's completion, or `timeout` seconds."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._verdict is not None or self._tracker.job_done or self._refusal is not None, timeout
            )

    def observe_node(self, node: dict[str, Any]) -> None:
        """A node the GPU waiter saw: its GPU problem conditions are judged here."""
        with self._lock:
            found = self._tracker.node(node)
        if found is not None:
            self._conclude(found)

    def elapsed(self) -> float:
        """Seconds since the watch started."""
        return self._clock() - self._started

    def summary(self) -> str:
        """What the watched pods do now (running totals)."""
        with self._lock:
            return self._tracker.summary()

    # --- the watch threads' side ----------------------------------------------------

    def _handler(self, source: str) -> Callable[[str, dict[str, Any]], None]:
        def on_change(change: str, item: dict[str, Any]) -> None:
            with self._lock:
                found = self._apply(source, change, item)
                if found is not None:
                    self._lock.notify_all()
            if found is not None:
                self._conclude(found)

        return on_change

    def _apply(self, source: str, change: str, item: dict[str, Any]) -> Finding | None:
        now = self._clock()
        if source == "events":
            return None if change == "DELETED" else self._tracker.event(item)
        if source == "job":
            return None if change == "DELETED" else self._tracker.job(item)
        if source == "nodes":
            return None if change == "DELETED" else self._tracker.node(item)
        if source == "plugin-pods" and not is_plugin_pod(item):
            return None
        role: Role = "device-plugin" if source == "plugin-pods" else "workload"
        return self._tracker.pod(change, item, role, now)

    def _refused_for(self, source: str) -> Callable[[str], None]:
        def refused(message: str) -> None:
            if source == "job":
                with self._lock:
                    self._refusal = message
                    self._lock.notify_all()
                return
            self._progress(f"Diagnosis narrowed: {message}; the wait goes on without it")

        return refused

    def _conclude(self, found: Finding) -> None:
        with self._lock:
            if self._verdict is not None or self._resolving:
                return
            self._resolving = True
        if isinstance(found, LogNeeded):
            diagnosis = self._explain(found)
        elif isinstance(found, EventsNeeded):
            diagnosis = explain_pull(found, self._pull_messages(found))
        elif isinstance(found, JobPodsNeeded):
            needed = last_failed_pod(self._job_pods(found), found.diagnosis)
            diagnosis = self._explain(needed) if needed is not None else found.diagnosis
        else:
            diagnosis = found
        with self._lock:
            self._verdict = diagnosis
            callbacks = list(self._callbacks)
            self._lock.notify_all()
        for callback in callbacks:
            callback()

    def _explain(self, needed: LogNeeded) -> Diagnosis:
        """Fetch the crashed container's log (the previous instance's, for a restarted one) and explain it."""
        core = kubernetes.client.CoreV1Api(self._api)
        try:
            response: Any = core.read_namespaced_pod_log(
                needed.pod,
                needed.namespace,
                container=needed.container,
                previous=needed.previous,
                tail_lines=LOG_FETCH_LINES,
                _preload_content=False,
                _request_timeout=(10.0, 20.0),
            )
            # With _preload_content=False the client returns the HTTP response, not the str its annotation names.
            log = read_body(cast(urllib3.BaseHTTPResponse, response)).decode("utf-8", errors="replace")
        except ApiException as error:
            log = f"(the log could not be read: {describe(error)})"
        except TRANSPORT_ERRORS as error:
            log = f"(the log could not be read: {describe(error)})"
        return explain_crash(needed, log)

    def _pull_messages(self, needed: EventsNeeded) -> list[str]:
        """The messages of the pod's events, oldest first ([] when they cannot be read)."""
        core = kubernetes.client.CoreV1Api(self._api)
        selector = f"{POD_EVENTS},involvedObject.name={needed.pod}"
        try:
            events = core.list_namespaced_event(
                needed.namespace, field_selector=selector, _request_timeout=(10.0, 20.0)
            )
        except (ApiException, *TRANSPORT_ERRORS):
            return []
        return [str(item.message or "") for item in events.items or []]

    def _job_pods(self, needed: JobPodsNeeded, attempts: int = 2) -> list[PodView]:
        """The Job's pods as read now; a failed read is tried once more ([] when both fail).

        The Job has failed already, so this read only adds the log to the verdict: one
        retry covers a blip without holding the verdict back.
        """
        core = kubernetes.client.CoreV1Api(self._api)
        page: Any = None
        for _ in range(attempts):
            try:
                response: Any = core.list_namespaced_pod(
                    needed.namespace,
                    label_selector=f"job-name={needed.job_name}",
                    _preload_content=False,
                    _request_timeout=(10.0, 20.0),
                )
                page = json.loads(read_body(cast(urllib3.BaseHTTPResponse, response)))
                break
            except (ApiException, ValueError, *TRANSPORT_ERRORS):
                continue
        items = page.get("items") if isinstance(page, dict) else None
        return [PodView.from_api(item) for item in items or [] if isinstance(item, dict) and _named(item)]

    def _tick(self) -> None:
        next_report = self._started + self._progress_every
        while not self._stop.wait(TICK_SECONDS):
            now = self._clock()
            with self._lock:
                found = self._tracker.due(now) if self._verdict is None else None
            if found is not None:
                self._conclude(found)
            if now >= next_report and self.verdict is None:
                next_report = now + self._progress_every
                self._progress(self._progress_line(now))

    def _progress_line(self, now: float) -> str:
        awaited = self._awaiting()
        pods = self.summary()
        parts = [part for part in (awaited, pods) if part]
        return f"{format_elapsed(now - self._started)} elapsed: " + ("; ".join(parts) or "waiting")


def _named(item: dict[str, Any]) -> bool:
    metadata = item.get("metadata")
    return isinstance(metadata, dict) and isinstance(metadata.get("name"), str)


def format_elapsed(seconds: float) -> str:
    """'4m05s' (or '42s'): how long a wait has run, for progress lines."""
    whole = max(int(seconds), 0)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"
