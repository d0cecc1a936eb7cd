"""Retry pacing and deadlines shared by the verifier's waits.

`Backoff` spaces the retries of failed API calls; `Deadline` keeps every
request within a wait's end; `without_hidden_retries` stops urllib3 from
retrying on its own (it multiplied the deadline and buried the cause).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

import kubernetes.client
import urllib3


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


class Deadline:
    """The end of a wait, on `clock`; `remaining()` is never negative."""

    def __init__(self, timeout: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._end = clock() + timeout

    def remaining(self) -> float:
        """Seconds left, 0 once the end has passed."""
        return max(0.0, self._end - self._clock())


def without_hidden_retries(api: kubernetes.client.ApiClient) -> None:
    """Turn off urllib3's own retries on the client's connection pools (the waits retry with backoff)."""
    # urllib3 retries a failed request three more times on its own, at once and
    # each with the whole read timeout: that overran the deadline fourfold, and
    # its wrapper error buried the cause. The waiter retries with backoff itself.
    pool_manager = api.rest_client.pool_manager
    pool_manager.connection_pool_kw["retries"] = False
    pool_manager.clear()


def cut(response: urllib3.BaseHTTPResponse) -> None:
    """End a response another thread is reading: its blocked read returns at once.

    urllib3 2.3+ shuts the socket down (`shutdown`), which wakes a reader; older ones only close it.
    """
    shutdown = getattr(response, "shutdown", None)
    with contextlib.suppress(OSError):
        if callable(shutdown):
            shutdown()
        else:
            response.close()
