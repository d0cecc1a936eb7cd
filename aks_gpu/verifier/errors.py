"""The verifier's errors, and how API and transport failures become messages for users."""

from __future__ import annotations

import json

import urllib3
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier.report import GpuReport


class VerificationError(Exception):
    """The check could not confirm the GPUs; str() is the message for users."""


class GpuTimeoutError(VerificationError):
    """The GPUs did not become allocatable in time."""

    def __init__(self, message: str, report: GpuReport) -> None:
        super().__init__(message)
        self.report = report


class ClusterAccessError(VerificationError):
    """The API server rejected the credentials (401) or the permissions (403)."""


def access_error(error: ApiException, action: str, permission: str) -> ClusterAccessError:
    """A ClusterAccessError for a 401 or 403 answer to `action`, naming the RBAC `permission` needed."""
    if error.status == 401:
        return ClusterAccessError(
            f"The Kubernetes API server rejected the kubeconfig's credentials "
            f"(HTTP 401 Unauthorized) when trying to {action}. The kubeconfig has "
            f"probably expired or its credentials were rotated, or its exec plugin "
            f"(kubelogin) could not get a token: fetch fresh cluster credentials."
        )
    detail = status_message(error)
    return ClusterAccessError(
        f"The kubeconfig's identity may not {action} (HTTP 403 Forbidden)"
        f"{': ' + detail if detail else ''}. Its RBAC role needs {permission}."
    )


def status_message(error: ApiException) -> str:
    """The `message` of the Kubernetes Status in an error body, if there is one."""
    try:
        return str(json.loads(error.body or "")["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return ""


def read_body(response: urllib3.BaseHTTPResponse) -> bytes:
    """Read a response requested with `_preload_content=False` and free its connection."""
    try:
        return response.data
    finally:
        response.release_conn()


def describe(error: Exception) -> str:
    """A short description of an API or transport error, for messages."""
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason or ''}".strip()
    return f"{type(error).__name__}: {error}"[:300]


# Errors worth retrying: the API server is briefly unhealthy or overloaded, or the
# connection broke (a load balancer or the API server ends long watches).
TRANSIENT_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError)
