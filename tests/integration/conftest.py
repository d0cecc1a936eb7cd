"""Shared fixtures of the integration tests: throwaway certificates, and the test API server over HTTP or HTTPS."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import pytest

from aks_gpu.verifier import api_client_from_kubeconfig
from tests.support.kube_api_server import KubeApiServer, TlsFiles


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate.

    The folder also holds other-ca.crt, a second CA that signed nothing here:
    a kubeconfig carrying it does not trust the server.
    """
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make test certificates")
    directory = tmp_path_factory.mktemp("tls")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    for ca in ("ca", "other-ca"):
        openssl(
            "req", "-x509", *key, "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2",
            "-subj", f"/CN=test-{ca}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    extensions = {
        "server": "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        "client": "extendedKeyUsage=clientAuth\n",
    }
    for name, extension in extensions.items():
        (directory / f"{name}.ext").write_text(extension)
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return TlsFiles(
        ca_cert=str(directory / "ca.crt"),
        server_cert=str(directory / "server.crt"),
        server_key=str(directory / "server.key"),
        client_cert=str(directory / "client.crt"),
        client_key=str(directory / "client.key"),
    )


@pytest.fixture(params=["http", "https"])
def served(request: pytest.FixtureRequest) -> Iterator[KubeApiServer]:
    """The test API server over HTTP, and over HTTPS with a client certificate and an inline CA."""
    tls = request.getfixturevalue("tls_files") if request.param == "https" else None
    with KubeApiServer(tls=tls) as server:
        yield server


@pytest.fixture
def served_api(served: KubeApiServer) -> Iterator[kubernetes.client.ApiClient]:
    """An API client for `served`, built from its kubeconfig."""
    with api_client_from_kubeconfig(served.kubeconfig()) as client:
        yield client


@pytest.fixture
def served_kubeconfig(served: KubeApiServer, tmp_path: Path) -> str:
    """The path of a kubeconfig file for `served`."""
    path = tmp_path / "kubeconfig"
    path.write_text(served.kubeconfig())
    return str(path)
