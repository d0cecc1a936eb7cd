"""Exec credential plugins (kubelogin and others) run under a deadline, never waiting for a person.

The `kubernetes` client runs a kubeconfig's exec plugin itself when it loads
the kubeconfig: with no time limit, with the plugin's stderr (where a device
code prompt goes) in a pipe nobody reads, and with a returned client key
written to a temporary file. Here the plugin runs as a subprocess with stdin
closed, `KUBERNETES_EXEC_INFO` saying nobody is at the keyboard, stderr read as
it arrives, and a timeout; a prompt for an interactive sign-in ends it at once
with advice on converting the kubeconfig.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from typing import Any

from aks_gpu.facts.entra import INTERACTIVE_PROMPTS, KUBELOGIN, KUBELOGIN_DEFAULT_LOGIN, REFUSED_LOGINS
from aks_gpu.facts.signin import sign_in_failure
from aks_gpu.verifier.errors import VerificationError
from aks_gpu.verifier.redact import redacted_tail

CONVERT_ADVICE = (
    "Convert the kubeconfig to a login that needs nobody: `kubelogin convert-kubeconfig -l azurecli "
    "--kubeconfig FILE` after `az login` on a laptop or after a pipeline's Azure login step "
    "(or -l workloadidentity with GitHub OIDC, -l azurepipelines in an Azure Pipelines AzureCLI@2 task, "
    "-l msi on an Azure VM, -l spn with a service principal). The stack's own kubeconfig output is "
    "already converted (aks-gpu:kubeloginMode)."
)
_STDERR_TAIL = 300


class InteractiveLoginError(VerificationError):
    """The kubeconfig's exec plugin wants a person to sign in (device code, browser)."""


@dataclasses.dataclass(frozen=True)
class ExecCredential:
    """What an exec plugin returned: a bearer token, or a client certificate and key (PEM), and when it expires."""

    token: str | None
    client_certificate: bytes | None
    client_key: bytes | None
    expires_at: datetime | None

    def expires_within(self, seconds: float) -> bool:
        """Whether the credential expires within `seconds` from now (False without an expiry)."""
        if self.expires_at is None:
            return False
        return (self.expires_at - datetime.now(UTC)).total_seconds() < seconds


def interactive_login(exec_config: dict[str, Any]) -> str | None:
    """The interactive login a kubelogin exec config asks for (devicecode, interactive, ropc), or None.

    Known from the arguments alone, so the plugin need not start. Without
    --login, kubelogin uses AAD_LOGIN_METHOD from its environment, else devicecode.
    """
    command = str(exec_config.get("command") or "")
    if KUBELOGIN not in os.path.basename(command).lower():
        return None
    args = [str(a) for a in exec_config.get("args") or []]
    mode = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--login", "-l")), None)
    if mode is None:
        env = {e.get("name"): e.get("value") for e in exec_config.get("env") or [] if isinstance(e, dict)}
        mode = env.get("AAD_LOGIN_METHOD") or os.environ.get("AAD_LOGIN_METHOD") or KUBELOGIN_DEFAULT_LOGIN
    return mode if mode in REFUSED_LOGINS else None


def _plugin_env(exec_config: dict[str, Any], cluster: dict[str, Any] | None) -> dict[str, str]:
    env = os.environ.copy()
    for item in exec_config.get("env") or []:
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value") or "")
    info: dict[str, Any] = {
        "apiVersion": exec_config["apiVersion"],
        "kind": "ExecCredential",
        # Tells well-behaved plugins not to prompt: nobody is at the keyboard.
        "spec": {"interactive": False},
    }
    if cluster is not None and exec_config.get("provideClusterInfo"):
        info["spec"]["cluster"] = cluster
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    return env


class _Output:
    """Collects a plugin's stdout and stderr from reader threads, noticing sign-in prompts on stderr."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.prompt = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, args=(process.stdout, self.stdout, False), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self.stderr, True), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: Any, sink: bytearray, watch: bool) -> None:
        for line in iter(stream.readline, b""):
            sink.extend(line)
            if watch and any(p in line.decode("utf-8", "replace").lower() for p in INTERACTIVE_PROMPTS):
                self.prompt.set()
        stream.close()

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def stderr_tail(self) -> str:
        # Redacted: a plugin may print a token or secret in its error (the message becomes a pulumi error).
        return redacted_tail(self.stderr.decode("utf-8", "replace"), _STDERR_TAIL)

    def diagnosis(self) -> str:
        """A known sign-in failure's cause and next step, else the redacted stderr tail ('' for none)."""
        text = (self.stderr + b"\n" + self.stdout).decode("utf-8", "replace")
        known = sign_in_failure(text)
        if known:
            signature, cause, step = known
            return f" Sign-in failed ({signature}): {cause}. Next: {step}."
        return f" It said (redacted): {self.stderr_tail()}" if self.stderr.strip() else ""


def _name(process: subprocess.Popen[bytes]) -> str:
    # The basename only: a full path may name a user's home directory.
    return repr(os.path.basename(str(process.args[0])))  # type: ignore[index]


def _kill(process: subprocess.Popen[bytes]) -> None:
    # The plugin runs in its own session: end it and whatever it started (az, a browser helper).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _start(command: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            [command, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as error:
        hint = (
            " Install kubelogin (https://azure.github.io/kubelogin/) and put it on PATH."
            if KUBELOGIN in command
            else ""
        )
        raise VerificationError(
            f"The kubeconfig's exec plugin {command!r} cannot be started: {error.strerror}.{hint}"
        ) from None


def _wait(process: subprocess.Popen[bytes], output: _Output, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if output.prompt.is_set():
            _kill(process)
            raise InteractiveLoginError(
                f"The kubeconfig's exec plugin {_name(process)} asked for an interactive sign-in "
                f"(a device code or a browser), and nobody can answer it here. {CONVERT_ADVICE}"
            )
        if time.monotonic() >= deadline:
            _kill(process)
            raise VerificationError(
                f"The kubeconfig's exec plugin {_name(process)} returned no credential within {timeout:g}s."
                + output.diagnosis()
                + f" If it waits for a sign-in: {CONVERT_ADVICE}"
            )
        output.prompt.wait(min(0.05, max(deadline - time.monotonic(), 0.0)))


def run_exec_plugin(
    exec_config: dict[str, Any], timeout: float, cluster: dict[str, Any] | None = None
) -> ExecCredential:
    """Run the kubeconfig user's exec plugin for at most `timeout` seconds and return its credential.

    Raises InteractiveLoginError for a plugin that wants a person, VerificationError otherwise.
    """
    if not isinstance(exec_config.get("command"), str) or not exec_config.get("apiVersion"):
        raise VerificationError("The kubeconfig's exec plugin has no command or apiVersion.")
    refused = interactive_login(exec_config)
    if refused:
        raise InteractiveLoginError(
            f"The kubeconfig logs in with `kubelogin --login {refused}`, which cannot work here because "
            f"{REFUSED_LOGINS[refused]}. {CONVERT_ADVICE}"
        )
    process = _start(
        exec_config["command"], [str(a) for a in exec_config.get("args") or []], _plugin_env(exec_config, cluster)
    )
    output = _Output(process)
    _wait(process, output, timeout)
    output.join(1.0)
    if process.returncode != 0:
        raise VerificationError(
            f"The kubeconfig's exec plugin {_name(process)} failed (exit {process.returncode})." + output.diagnosis()
        )
    return parse_exec_credential(bytes(output.stdout), exec_config["apiVersion"])


def parse_exec_credential(stdout: bytes, api_version: str) -> ExecCredential:
    """The credential in a plugin's ExecCredential JSON (errors never quote the output: it holds secrets)."""
    try:
        data = json.loads(stdout)
        status = data["status"]
        matches = data.get("kind") == "ExecCredential" and data.get("apiVersion") == api_version
    except (ValueError, KeyError, TypeError):
        raise VerificationError("The kubeconfig's exec plugin did not print an ExecCredential.") from None
    if not matches or not isinstance(status, dict):
        raise VerificationError(f"The kubeconfig's exec plugin did not print an {api_version} ExecCredential.")
    token = status.get("token") or None
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if token is None and not (cert and key):
        raise VerificationError(
            "The kubeconfig's exec plugin returned neither a token nor a client certificate and key."
        )
    return ExecCredential(
        token=token,
        client_certificate=cert.encode() if cert and key else None,
        client_key=key.encode() if cert and key else None,
        expires_at=_timestamp(status.get("expirationTimestamp")),
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
