"""The verifier's errors, and how API and transport failures become messages for users.

Failures split in two: those that a retry may cure (the API server is busy or
restarting, a connection broke) and those it cannot (the credentials or the
permissions are refused, the server's certificate is not trusted). The second
kind ends the wait at once as a ClusterAccessError, which the command maps to
exit status 2 like an unusable kubeconfig.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import urllib3
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier.diagnosis import Diagnosis
from aks_gpu.verifier.report import GpuReport


class VerificationError(Exception):
    """The check could not confirm the GPUs; str() is the message for users."""


class GpuTimeoutError(VerificationError):
    """The GPUs did not become allocatable in time."""

    def __init__(self, message: str, report: GpuReport) -> None:
        super().__init__(message)
        self.report = report


class ClusterAccessError(VerificationError):
    """The kubeconfig cannot reach the cluster as it is: credentials refused (401),
    permissions refused (403) or the server's certificate not trusted. Retrying
    cannot help."""


# Where `kubeconfig` records why renewing the exec plugin's token failed, on the client's configuration.
SIGN_IN_FAILURE = "aks_gpu_sign_in_failure"


def access_error(
    error: ApiException, action: str, permission: str, configuration: object | None = None
) -> ClusterAccessError:
    """A ClusterAccessError for a 401 or 403 answer to `action`, naming the RBAC `permission` needed.

    When the client's exec plugin (kubelogin) failed to renew its token (recorded on
    `configuration`), a 401 names that sign-in failure, its cause and next step instead.
    """
    renewal = getattr(configuration, SIGN_IN_FAILURE, None)
    if error.status == 401 and renewal:
        return ClusterAccessError(
            f"The Kubernetes API server rejected the credentials (HTTP 401 Unauthorized) when trying to {action}, "
            f"because the kubeconfig's token expired and could not be renewed: {renewal}"
        )
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


def describe(error: Exception, server: str = "the API server") -> str:
    """A short description of an API or transport error, for messages; names the root cause.

    urllib3 wraps the operating system's error in messages that start with an
    object's repr and the whole URL; the root cause (connection refused, name
    not resolved, read timed out) is what a person can act on.
    """
    if isinstance(error, ApiException) and error.status:
        return f"HTTP {error.status} {error.reason or ''}".strip()
    causes = list(_causes(error))
    if any(isinstance(cause, urllib3.exceptions.ReadTimeoutError) for cause in causes):
        return f"{server} did not answer in time (read timeout)"
    # The innermost operating-system error that says what happened, else the innermost error.
    root = next((c for c in reversed(causes) if isinstance(c, OSError) and c.strerror), causes[-1])
    if isinstance(root, OSError) and root.strerror:
        return f"cannot reach {server}: {type(root).__name__}: [Errno {root.errno}] {root.strerror}"
    return f"{server}: {type(root).__name__}: {_shorten(str(root))}"


# TLS alerts with which a server refuses the client's certificate (OpenSSL reason codes).
# Sending the same certificate again gets the same alert, so none of them is retried.
CLIENT_CERTIFICATE_REFUSED = frozenset(
    {
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)
# What OpenSSL reports when the other end answers in plain HTTP, not TLS.
NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE"})


def trust_error(error: Exception, server: str) -> ClusterAccessError | None:
    """A ClusterAccessError when `error` is a TLS failure no retry can cure, else None.

    Three are final: the server's certificate is not trusted, the server refuses the
    kubeconfig's client certificate (a TLS alert), or the server does not speak TLS
    at all (an `https://` URL on a plain-HTTP port). A handshake that merely broke
    off (EOF, reset) is left to the retries.
    """
    causes = list(_causes(error))
    root = next((cause for cause in causes if isinstance(cause, ssl.SSLCertVerificationError)), None)
    if root is not None:
        detail = root.verify_message or root.reason or str(root)
        return ClusterAccessError(
            f"The certificate of the API server {server} is not trusted: certificate verify failed: {detail}. "
            f"The kubeconfig's certificate authority does not match this server (a kubeconfig of another "
            f"cluster, or the cluster's certificates were rotated): fetch fresh cluster credentials."
        )
    reasons = {str(getattr(cause, "reason", "")) for cause in causes if isinstance(cause, ssl.SSLError)}
    if reasons & CLIENT_CERTIFICATE_REFUSED:
        alert = sorted(reasons & CLIENT_CERTIFICATE_REFUSED)[0]
        return ClusterAccessError(
            f"The API server {server} refused the kubeconfig's client certificate (TLS alert {alert}): the "
            "certificate was not issued by this cluster, has expired or was revoked. Fetch fresh cluster "
            "credentials (az aks get-credentials, or this stack's kubeconfig output)."
        )
    if reasons & NOT_TLS:
        return ClusterAccessError(
            f"The API server address {server} does not answer in TLS (OpenSSL: {sorted(reasons & NOT_TLS)[0]}): "
            "the kubeconfig's server URL names a plain-HTTP port or the wrong service. Check its `server:` field."
        )
    return None


def retry_after(error: ApiException, limit: float = 60.0) -> float | None:
    """Seconds a 429 or 503 answer asks the client to wait (its Retry-After header), at most `limit`.

    The API server's priority and fairness sends `Retry-After` with 429; only the
    delta-seconds form is used there (an HTTP date or garbage is ignored, None).
    """
    headers = getattr(error, "headers", None) or {}
    text = next((str(value) for key, value in dict(headers).items() if str(key).lower() == "retry-after"), "")
    if error.status not in (429, 503) or not text.strip().isdigit():
        return None
    return min(float(text.strip()), limit)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what caused it, outermost first (urllib3's `reason`, __cause__, __context__)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else current.__cause__ or current.__context__


def _shorten(text: str, limit: int = 300) -> str:
    # urllib3 puts "<...Connection object at 0x...>: " before the useful part.
    _, _, tail = text.rpartition(">: ")
    text = tail or text
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Errors worth retrying: the API server is briefly unhealthy or overloaded, or the
# connection broke (a load balancer or the API server ends long watches).
TRANSIENT_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError)


class DiagnosedFault(VerificationError):
    """The cluster named a cause that waiting cannot cure; `diagnosis` says which, `report` what the nodes showed.

    The command maps it to exit status 3.
    """

    def __init__(self, message: str, diagnosis: Diagnosis, report: GpuReport | None = None) -> None:
        super().__init__(message)
        self.diagnosis = diagnosis
        self.report = report
