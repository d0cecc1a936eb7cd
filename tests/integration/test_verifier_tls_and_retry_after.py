"""Final TLS faults end the wait at once; a 429's Retry-After paces the retry."""

from __future__ import annotations

import base64
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier import api_client_from_kubeconfig
from aks_gpu.verifier.errors import ClusterAccessError, retry_after
from aks_gpu.verifier.waiter import GpuWaiter
from tests.support.kube_api_server import KubeApiServer, gpu_node


def foreign_client_certificate(tls_files, tmp_path: Path) -> tuple[bytes, bytes]:
    """A client certificate signed by other-ca, which the server does not accept."""
    ca_dir = Path(tls_files.ca_cert).parent
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (tmp_path / "client.ext").write_text("extendedKeyUsage=clientAuth\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    openssl("req", *key, "-keyout", "foreign.key", "-out", "foreign.csr", "-subj", "/CN=foreign")
    openssl(
        "x509", "-req", "-in", "foreign.csr", "-CA", str(ca_dir / "other-ca.crt"), "-CAkey",
        str(ca_dir / "other-ca.key"), "-CAcreateserial", "-out", "foreign.crt", "-days", "2",
        "-extfile", "client.ext",
    )  # fmt: skip
    return (tmp_path / "foreign.crt").read_bytes(), (tmp_path / "foreign.key").read_bytes()


def test_a_refused_client_certificate_ends_the_wait_at_once(tls_files, tmp_path):
    cert, key = foreign_client_certificate(tls_files, tmp_path)
    sleeps: list[float] = []
    # Over TLS 1.3 the server's alert can race the client's first read and arrive as an EOF,
    # which stays a retried transport error (it is also what a dropped connection looks like).
    with KubeApiServer(tls=tls_files, max_tls=ssl.TLSVersion.TLSv1_2) as server:
        server.put_node(gpu_node("aks-gpu-0"))
        with api_client_from_kubeconfig(server.kubeconfig(client_cert_data=cert, client_key_data=key)) as api:
            with pytest.raises(ClusterAccessError) as error:
                GpuWaiter(api, 1, timeout=120, sleep=sleeps.append).run()
    text = str(error.value)
    assert f"The API server {server.url} refused the kubeconfig's client certificate" in text
    assert "TLS alert TLSV1_ALERT_UNKNOWN_CA" in text and "Fetch fresh cluster credentials" in text
    assert sleeps == []  # not one retry
    assert "BEGIN" not in text and "PRIVATE" not in text


def test_an_https_url_on_a_plain_http_port_ends_the_wait_at_once(tls_files):
    sleeps: list[float] = []
    with KubeApiServer(tls=None) as server:
        kubeconfig = yaml.safe_load(server.kubeconfig())
        cluster = kubeconfig["clusters"][0]["cluster"]
        cluster["server"] = server.url.replace("http://", "https://")
        cluster["certificate-authority-data"] = base64.b64encode(Path(tls_files.ca_cert).read_bytes()).decode()
        with api_client_from_kubeconfig(yaml.safe_dump(kubeconfig)) as api:
            with pytest.raises(ClusterAccessError) as error:
                GpuWaiter(api, 1, timeout=120, sleep=sleeps.append).run()
    assert "does not answer in TLS (OpenSSL: WRONG_VERSION_NUMBER)" in str(error.value)
    assert "`server:` field" in str(error.value) and sleeps == []


def test_a_429_with_retry_after_waits_as_long_as_the_server_asks(served, served_api):
    served.put_node(gpu_node("aks-gpu-0"))
    served.send_retry_after("7")
    served.fail_next(1, status=429)
    progress: list[str] = []
    sleeps: list[float] = []
    report = GpuWaiter(served_api, 1, timeout=60, progress=progress.append, sleep=sleeps.append).run()
    assert report.verified == 1
    # The backoff alone would wait 0.25-0.5 s after a first failure.
    assert sleeps[0] == 7.0
    assert any("HTTP 429" in line and "retrying in 7.0s" in line for line in progress)


@pytest.mark.parametrize(
    "status, header, expected",
    [
        (429, "3", 3.0),
        (503, "120", 60.0),
        (429, "Wed, 21 Oct 2026 07:28:00 GMT", None),
        (500, "3", None),
        (429, None, None),
    ],
)
def test_retry_after_reads_delta_seconds_of_429_and_503_only(status, header, expected):
    error = ApiException(status=status, reason="x")
    error.headers = {"Retry-After": header} if header is not None else {}
    assert retry_after(error) == expected
