"""The events of a Kubernetes watch stream, read line by line without trusting the lines.

The client's `Watch` helper yields None for a line that is not JSON and raises
KeyError or TypeError for JSON of the wrong shape, which surfaced as a Python
traceback. Here every line either becomes a `WatchEvent` or raises
`MalformedWatchLine`, which the waiter treats like a broken connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

# What a message quotes of a bad line: enough to recognise it, not a whole object.
QUOTE_LIMIT = 80


class MalformedWatchLine(Exception):
    """A watch stream line that is not a watch event; str() says what was wrong and quotes its start."""


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ADDED, MODIFIED, DELETED or BOOKMARK, and the object as JSON."""

    type: str
    object: dict[str, Any]

    @property
    def resource_version(self) -> str | None:
        """The object's resourceVersion, the point to resume the watch from."""
        metadata = self.object.get("metadata")
        version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
        return version if isinstance(version, str) and version else None


def watch_events(response: urllib3.BaseHTTPResponse) -> Iterator[WatchEvent]:
    """The events of a watch response requested with `_preload_content=False`.

    Raises MalformedWatchLine for a line that is not an event, and
    ApiException for an ERROR event (410 when the watch expired).
    """
    # The client's helper has no annotations; its contract: the response's lines, decoded.
    lines = cast(Callable[[urllib3.BaseHTTPResponse], Iterator[str]], iter_resp_lines)
    for line in lines(response):
        if line.strip():
            yield parse_event(line)


def parse_event(line: str) -> WatchEvent:
    """One line of a watch stream as an event; see `watch_events` for what it raises."""
    try:
        event = json.loads(line)
    except ValueError:
        raise MalformedWatchLine(f"the watch sent a line that is not JSON: {_quote(line)}") from None
    kind = event.get("type") if isinstance(event, dict) else None
    body = event.get("object") if isinstance(event, dict) else None
    if not isinstance(kind, str) or not isinstance(body, dict):
        raise MalformedWatchLine(f"the watch sent JSON that is not an event: {_quote(line)}")
    if kind == "ERROR":
        raise _error_event(body)
    return WatchEvent(kind, body)


def _error_event(status: dict[str, Any]) -> ApiException:
    code = status.get("code")
    reason = f"{status.get('reason') or 'Error'}: {str(status.get('message') or '')[:200]}"
    return ApiException(status=code if isinstance(code, int) and code > 0 else 500, reason=reason)


def _quote(line: str) -> str:
    return repr(line[:QUOTE_LIMIT]) + ("..." if len(line) > QUOTE_LIMIT else "")
