"""An API client from kubeconfig text, built in memory: certificates and keys never reach a disk.

A user with an exec credential plugin (kubelogin) has it run here, under a
timeout and never waiting for a person (`exec_credentials`), instead of by the
`kubernetes` client, which would wait as long as the plugin does and write a
returned client key to a temporary file.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import kubernetes.client
import yaml
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from aks_gpu.verifier.errors import SIGN_IN_FAILURE, VerificationError
from aks_gpu.verifier.exec_credentials import ExecCredential, run_exec_plugin

# How long an exec plugin may take when the caller gives no deadline of its own.
DEFAULT_EXEC_TIMEOUT = 60.0
# A token this close to its expiry is fetched again before the next request.
REFRESH_MARGIN_SECONDS = 120.0


def api_client_from_kubeconfig(
    kubeconfig: str, exec_timeout: float = DEFAULT_EXEC_TIMEOUT
) -> kubernetes.client.ApiClient:
    """Build an API client from kubeconfig YAML text, entirely in memory.

    The `kubernetes` client writes inline certificates and keys
    (`*-data` fields) to temporary files; here they go into an in-memory TLS
    context instead, so the credentials never reach a disk. An exec plugin runs
    for at most `exec_timeout` seconds; a token it returns is fetched again
    when it is about to expire during a long wait.
    """
    config = _parse_kubeconfig(kubeconfig)
    inline = _take_inline_tls_data(config)
    exec_run = _run_current_exec_plugin(config, exec_timeout)
    configuration = kubernetes.client.Configuration()
    try:
        # The client's loader has no annotations: typed here as what it is to this module.
        loader: Any = cast(Callable[..., Any], KubeConfigLoader)(config_dict=config)
        loader.load_and_set(configuration)
        context = loader.current_context["context"]
    except (ConfigException, KeyError, TypeError, ValueError, AttributeError) as error:
        # ConfigException messages name keys and paths, never values.
        detail = str(error) if isinstance(error, ConfigException) else "unexpected structure"
        raise VerificationError(f"The kubeconfig is not usable: {detail}") from None
    _check_server(configuration.host, context.get("cluster"))
    cert = inline.get(("users", context.get("user"), "client-certificate-data"))
    key = inline.get(("users", context.get("user"), "client-key-data"))
    if exec_run is not None:
        credential, rerun = exec_run
        if credential.client_certificate is not None:
            cert, key = credential.client_certificate, credential.client_key
        if credential.token is not None:
            _keep_token_fresh(configuration, credential, rerun)
    client = kubernetes.client.ApiClient(configuration)
    tls = _tls_context(
        configuration,
        ca=inline.get(("clusters", context.get("cluster"), "certificate-authority-data")),
        cert=cert,
        key=key,
    )
    if tls is not None:
        client.rest_client.pool_manager.connection_pool_kw["ssl_context"] = tls
    return client


def _named(config: dict[str, Any], section: str, name: Any) -> dict[str, Any] | None:
    entries = config.get(section)
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def _run_current_exec_plugin(
    config: dict[str, Any], timeout: float
) -> tuple[ExecCredential, Callable[[], ExecCredential]] | None:
    """Take the current user's exec plugin out of `config` (so the loader cannot run it), run it,
    and put a returned token in its place; returns the credential and a way to fetch a new one."""
    context = (_named(config, "contexts", config.get("current-context")) or {}).get("context")
    if not isinstance(context, dict):
        return None  # the loader reports the broken context
    user = (_named(config, "users", context.get("user")) or {}).get("user")
    if not isinstance(user, dict) or not isinstance(user.get("exec"), dict):
        return None
    exec_config = user.pop("exec")
    cluster = (_named(config, "clusters", context.get("cluster")) or {}).get("cluster")

    def run(limit: float = timeout) -> ExecCredential:
        return run_exec_plugin(exec_config, limit, cluster if isinstance(cluster, dict) else None)

    credential = run()
    if credential.token is not None:
        user["token"] = credential.token
    return credential, run


def _keep_token_fresh(
    configuration: kubernetes.client.Configuration, credential: ExecCredential, rerun: Callable[[], ExecCredential]
) -> None:
    """Fetch a new token before each request once the current one is about to expire.

    The client calls the hook before every request; running the plugin again
    only near expiry keeps that cheap. A failed refresh keeps the old token, and
    the API server's 401 then says what went wrong. Client certificates are not
    refreshed: the TLS context is built once.
    """
    current = [credential]
    lock = threading.Lock()

    def refresh(config: kubernetes.client.Configuration) -> None:
        with lock:
            if not current[0].expires_within(REFRESH_MARGIN_SECONDS):
                return
            try:
                fresh = rerun()
            except VerificationError as error:
                # The 401 that follows names this, not "fetch fresh credentials" (an expired OIDC token
                # in a pipeline needs a new token, not a new kubeconfig).
                setattr(config, SIGN_IN_FAILURE, str(error))
                return
            if fresh.token:
                setattr(config, SIGN_IN_FAILURE, None)
                current[0] = fresh
                config.api_key["BearerToken"] = f"Bearer {fresh.token}"

    # The client's stub types the hook as None; it is called with the configuration before each request.
    cast(Any, configuration).refresh_api_key_hook = refresh


def _check_server(host: Any, cluster: Any) -> None:
    # Without it every request fails with "No host specified", which would be
    # retried as transient until the timeout; it is bad input (exit 2).
    parts = urlsplit(host) if isinstance(host, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise VerificationError(
            f"The kubeconfig's cluster {str(cluster)[:60]!r} has no usable server: an https:// URL is needed."
        )


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
