"""Exec credential plugins (a stand-in `kubelogin` on PATH) run by the verifier under its
deadline, against the test API server: device-code logins end fast with advice, tokens
verify and are refreshed, client keys from a plugin never reach TMPDIR."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from aks_gpu.components.checks import ClusterAccessCheckProvider
from aks_gpu.facts.entra import AKS_SERVER_APP_ID
from aks_gpu.verifier import ClusterAccessError, api_client_from_kubeconfig, wait_for_gpus
from aks_gpu.verifier.access import wait_for_access
from aks_gpu.verifier.cli import main
from aks_gpu.verifier.exec_credentials import InteractiveLoginError
from tests.support.kube_api_server import DEFAULT_TOKEN, KubeApiServer, TlsFiles, gpu_node

AZURECLI = ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP_ID]
DEVICECODE = ["get-token", "--server-id", AKS_SERVER_APP_ID, "--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
              "--tenant-id", "72f988bf-86f1-41af-91ab-2d7cd011db47", "--login", "devicecode"]  # fmt: skip
ADVICE = "kubelogin convert-kubeconfig -l azurecli"
PROMPT = (
    "To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
    "and enter the code F4KEC0DE1 to authenticate."
)


def standin(bin_dir: Path, body: str) -> Path:
    """Write an executable `kubelogin` running `body` (Python) into bin_dir; it records each start."""
    script = bin_dir / "kubelogin"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys, time\n"
        f"open({str(bin_dir / 'starts')!r}, 'a').write('x')\n" + textwrap.dedent(body)
    )
    script.chmod(0o755)
    return script


def credential(status: dict) -> str:
    return json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": status}
    )


def exec_kubeconfig(server: KubeApiServer, args: list[str], ca: bytes | None = None) -> str:
    cluster: dict = {"server": server.url}
    if ca:
        import base64

        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin", "args": args}}
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "aks", "cluster": cluster}],
            "users": [{"name": "clusterUser", "user": user}],
            "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "clusterUser"}}],
            "current-context": "aks",
        }
    )


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


@pytest.fixture
def kube():
    with KubeApiServer() as server:
        yield server


def starts(bin_dir: Path) -> int:
    marker = bin_dir / "starts"
    return len(marker.read_text()) if marker.exists() else 0


def run_cli(kubeconfig: str, tmp_path: Path, *extra: str) -> tuple[int, float]:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig)
    started = time.monotonic()
    code = main(["--kubeconfig", str(path), "--expected-gpus", "1", *extra])
    return code, time.monotonic() - started


# --- Interactive logins end the run, fast, with the advice -------------------------


def test_a_devicecode_kubeconfig_exits_2_at_once_with_the_advice(kube, bin_dir, tmp_path, capsys):
    # What AKS hands out for an Entra ID cluster; the stand-in would prompt and wait a minute.
    standin(bin_dir, f"print({PROMPT!r}, file=sys.stderr, flush=True)\ntime.sleep(60)\n")

    code, took = run_cli(exec_kubeconfig(kube, DEVICECODE), tmp_path, "--timeout", "5")

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert took < 5
    assert ADVICE in err and "devicecode" in err
    assert starts(bin_dir) == 0  # known from the arguments: the plugin never started
    assert kube.requests == []


def test_a_plugin_that_prompts_for_a_device_code_is_stopped_at_once(kube, bin_dir, tmp_path, capsys):
    # Claims azurecli, but asks for a device code anyway (an az CLI whose sign-in expired, say).
    standin(bin_dir, f"print({PROMPT!r}, file=sys.stderr, flush=True)\ntime.sleep(60)\n")

    code, took = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "30")

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert took < 10  # the prompt ends it, not the 30s timeout
    assert starts(bin_dir) == 1
    assert ADVICE in err and "interactive sign-in" in err
    assert "F4KEC0DE1" not in err


def test_a_plugin_that_hangs_silently_is_stopped_at_the_timeout(kube, bin_dir, tmp_path, capsys):
    standin(bin_dir, "time.sleep(60)\n")

    code, took = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "2")

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert 2 <= took < 6
    assert "returned no credential within 2s" in err and ADVICE in err


def test_a_failing_plugin_says_why(kube, bin_dir, tmp_path, capsys):
    standin(bin_dir, "print('Please run az login to setup account.', file=sys.stderr)\nsys.exit(1)\n")

    code, _ = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "5")

    assert code == 2
    err = capsys.readouterr().err
    assert "'kubelogin' failed (exit 1)" in err
    assert "Please run 'az login'" in err or "run `az login`" in err


def test_a_missing_kubelogin_says_to_install_it(kube, bin_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(bin_dir))  # empty: no kubelogin anywhere

    code, _ = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "5")

    assert code == 2
    assert "Install kubelogin" in capsys.readouterr().err


# --- Non-interactive logins verify -------------------------------------------------

TOKEN_PLUGIN = f"""
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
if info["spec"]["interactive"] is not False or sys.stdin.read() != "":
    sys.exit(3)  # the verifier must say nobody is there, and give no stdin
print({credential({"token": DEFAULT_TOKEN})!r})
"""


def test_a_non_interactive_plugin_verifies_with_its_bearer_token(kube, bin_dir, tmp_path, capsys):
    standin(bin_dir, TOKEN_PLUGIN)
    kube.put_node(gpu_node("aks-gpu-0"))

    code, _ = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "15")

    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["verifiedGpus"] == 1
    assert starts(bin_dir) == 1
    assert kube.count() >= 1  # the server requires the bearer token, so the plugin's token got through


def test_a_token_about_to_expire_is_fetched_again(kube, bin_dir):
    # Call n returns token-n, valid for 30s: inside the refresh margin, so each request refreshes.
    counter = bin_dir / "calls"
    standin(
        bin_dir,
        f"""
        n = (len(open({str(counter)!r}).read()) if os.path.exists({str(counter)!r}) else 0) + 1
        open({str(counter)!r}, "a").write("x")
        from datetime import datetime, timedelta, timezone
        expiry = (datetime.now(timezone.utc) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                          "status": {{"token": f"token-{{n}}", "expirationTimestamp": expiry}}}}))
        """,
    )
    kube.token = "token-2"  # only the refreshed token is accepted
    kube.put_node(gpu_node("aks-gpu-0"))

    with api_client_from_kubeconfig(exec_kubeconfig(kube, AZURECLI), exec_timeout=10) as api:
        report = wait_for_gpus(api, 1, 15)

    assert report.verified == 1
    assert starts(bin_dir) >= 2


# --- Client certificates from a plugin stay in memory --------------------------------


def cert_plugin(tls: TlsFiles) -> str:
    directory = Path(tls.ca_cert).parent
    return f"""
    status = {{"clientCertificateData": open({str(directory / "client.crt")!r}).read(),
               "clientKeyData": open({str(directory / "client.key")!r}).read()}}
    print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                      "status": status}}))
    """


def verifier_process(kubeconfig: Path, tmpdir: Path, expected: int, timeout: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aks_gpu.verifier", "--kubeconfig", str(kubeconfig),
         "--expected-gpus", str(expected), "--timeout", str(timeout)],
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.fixture
def tls_kube(tls_files):
    with KubeApiServer(token=None, tls=tls_files) as server:
        yield server


def cert_plugin_setup(tls_kube, tls_files, bin_dir, tmp_path) -> tuple[Path, Path]:
    """A stand-in kubelogin that returns a client certificate, a kubeconfig using it, and an empty TMPDIR."""
    standin(bin_dir, cert_plugin(tls_files))
    tls_kube.put_node(gpu_node("aks-gpu-0"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(exec_kubeconfig(tls_kube, AZURECLI, ca=Path(tls_files.ca_cert).read_bytes()))
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    return kubeconfig, tmpdir


def test_a_plugin_client_certificate_verifies_without_a_key_file(tls_kube, tls_files, bin_dir, tmp_path):
    kubeconfig, tmpdir = cert_plugin_setup(tls_kube, tls_files, bin_dir, tmp_path)

    process = verifier_process(kubeconfig, tmpdir, expected=1, timeout=15)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, err  # the server only talks to holders of the client certificate
    assert json.loads(out)["verifiedGpus"] == 1
    assert os.listdir(tmpdir) == []


def test_a_killed_verifier_leaves_no_key_file(tls_kube, tls_files, bin_dir, tmp_path):
    kubeconfig, tmpdir = cert_plugin_setup(tls_kube, tls_files, bin_dir, tmp_path)

    process = verifier_process(kubeconfig, tmpdir, expected=2, timeout=120)
    try:
        tls_kube.wait_for_watch(timeout=30)  # connected with the plugin's certificate, now waiting
    finally:
        process.send_signal(signal.SIGKILL)  # no atexit, no finally: what is on disk stays
        process.communicate(timeout=30)

    assert process.returncode == -signal.SIGKILL
    assert os.listdir(tmpdir) == []


# --- Waiting for a role assignment to reach the authorizer -----------------------------


def test_access_is_awaited_until_the_authorizer_allows_it(kube):
    kube.deny_access_reviews(2)
    lines: list[str] = []

    with api_client_from_kubeconfig(kube.kubeconfig()) as api:
        reviews = wait_for_access(api, 10, poll=0.01, progress=lines.append)

    assert reviews == 3
    assert len(kube.access_reviews) == 3
    attributes = kube.access_reviews[0]["spec"]["resourceAttributes"]
    assert (attributes["verb"], attributes["resource"]) == ("create", "namespaces")
    assert len(lines) == 1 and "create namespaces" in lines[0]


def test_access_that_never_arrives_fails_at_the_deadline(kube):
    kube.deny_access_reviews(10_000)

    started = time.monotonic()
    with api_client_from_kubeconfig(kube.kubeconfig()) as api, pytest.raises(ClusterAccessError) as error:
        wait_for_access(api, 0.5, poll=0.05)

    assert time.monotonic() - started < 5
    assert "still may not create namespaces" in str(error.value)
    assert "az role assignment list" in str(error.value)


def test_rejected_credentials_fail_at_once(kube):
    with api_client_from_kubeconfig(kube.kubeconfig(token="wrong")) as api, pytest.raises(ClusterAccessError) as error:
        wait_for_access(api, 30, poll=0.05)

    assert "401" in str(error.value)
    assert len(kube.requests) == 1


def test_the_access_check_provider_runs_the_plugin_and_waits(kube, bin_dir):
    standin(bin_dir, TOKEN_PLUGIN)
    kube.deny_access_reviews(1)
    props = {"kubeconfig": exec_kubeconfig(kube, AZURECLI), "timeoutSeconds": 30, "roleAssignmentId": "ra-1"}

    result = ClusterAccessCheckProvider().create(props)

    assert result.outs == {"timeoutSeconds": 30, "roleAssignmentId": "ra-1", "reviews": 2}
    assert "kubeconfig" not in result.outs


def test_interactive_login_error_is_a_verification_error():
    from aks_gpu.verifier import VerificationError

    assert issubclass(InteractiveLoginError, VerificationError)


# --- No credential in any message; known sign-in failures named ------------------

SECRET_JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiI2ZGFlNDJmOCIsInN1YiI6InNlY3JldHN1YmplY3QifQ."
    "c2lnbmF0dXJlX3NlY3JldF9wYXJ0X3h5ejEyMw"
)
SECRET_HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SECRET_WORD = "Hunter2SuperSecretPw"


def _substrings(secret: str, n: int = 8) -> list[str]:
    return [secret[i : i + n] for i in range(len(secret) - n + 1)]


def assert_no_secret(text: str) -> None:
    for secret in (SECRET_JWT, SECRET_HEX, SECRET_WORD):
        leaked = [part for part in _substrings(secret) if part in text]
        assert not leaked, f"{secret[:6]}... leaked: {leaked[:3]}"


LEAKY_STDERR = (
    f"error: request failed Authorization: Bearer {SECRET_JWT}\n"
    f"client_secret={SECRET_WORD} key {SECRET_HEX}\n"
    f'{{"access_token": "{SECRET_JWT}", "password": "{SECRET_WORD}"}}\n'
)


@pytest.mark.parametrize("exit_code", [1, None])
def test_a_plugin_that_prints_secrets_has_them_redacted(kube, bin_dir, tmp_path, capsys, caplog, exit_code):
    # None: the plugin hangs after printing, so the timeout message quotes it.
    end = f"sys.exit({exit_code})" if exit_code else "time.sleep(60)"
    standin(bin_dir, f"sys.stderr.write({LEAKY_STDERR!r})\nsys.stderr.flush()\nprint({SECRET_JWT!r})\n{end}\n")

    code, _ = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "2")

    out, err = capsys.readouterr()
    assert code == 2
    assert "redacted" in err
    assert_no_secret(out + err + caplog.text)


@pytest.mark.parametrize(
    ("said", "named"),
    [
        ("AADSTS700024: Client assertion is not within its valid time range.", "fresh OIDC token"),
        ("AADSTS70043: The refresh token has expired due to inactivity.", "az login"),
        ("AADSTS50173: The provided grant has expired due to it being revoked.", "az login"),
        ("AADSTS7000215: Invalid client secret provided.", "secret's value"),
        ("ERROR: Please run 'az login' to setup account.", "before the verifier"),
    ],
)
def test_a_known_sign_in_failure_is_named_with_its_next_step(kube, bin_dir, tmp_path, capsys, said, named):
    standin(bin_dir, f"print({said!r} + ' Trace ID: {SECRET_HEX}', file=sys.stderr)\nsys.exit(1)\n")

    code, _ = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "5")

    err = capsys.readouterr().err
    assert code == 2
    assert said.split(":")[0].split(" ")[-1] in err or "az login" in err
    assert named in err
    assert "fetch fresh cluster credentials" not in err or "AADSTS5" in said or "AADSTS7004" in said
    assert_no_secret(err)


def test_invalid_yaml_kubeconfig_names_only_line_and_column(tmp_path, capsys, caplog):
    path = tmp_path / "kubeconfig"
    path.write_text(f"apiVersion: v1\nusers:\n- user: {{token: {SECRET_JWT}: [\n")

    code = main(["--kubeconfig", str(path), "--expected-gpus", "1", "--timeout", "2"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "line" in err and "column" in err
    assert_no_secret(out + err + caplog.text)


def test_invalid_exec_credential_json_is_not_quoted(kube, bin_dir, tmp_path, capsys, caplog):
    standin(bin_dir, f'print(\'{{"status": {{"token": "{SECRET_JWT}"\')\n')

    code, _ = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "5")

    out, err = capsys.readouterr()
    assert code == 2
    assert "ExecCredential" in err
    assert_no_secret(out + err + caplog.text)


def test_the_plugin_run_time_counts_inside_the_timeout(kube, bin_dir, tmp_path, capsys):
    # A slow sign-in (4 s) and no GPUs: --timeout 5 bounds the whole run, not 4 s + 5 s.
    token = credential({"token": DEFAULT_TOKEN})
    standin(bin_dir, f"time.sleep(4)\nprint({token!r})\n")

    code, took = run_cli(exec_kubeconfig(kube, AZURECLI), tmp_path, "--timeout", "5")

    assert code == 1
    assert took < 8  # about 5 s; 9 s when the plugin's time came on top of the wait
    assert "Timed out" in capsys.readouterr().err
