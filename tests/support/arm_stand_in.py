"""A small Azure Resource Manager stand-in on 127.0.0.1 for the preflight's tests.

Serves over HTTPS (azure-core's bearer token policy refuses plain HTTP) the two
reads the preflight makes with azure-mgmt-compute:

- GET /subscriptions/{sub}/providers/Microsoft.Compute/skus?$filter=location eq '{region}'
- GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/{region}/usages

It checks the bearer token, records every request, and injects faults: the next
N requests answer a given status (429 with Retry-After: 0, 500, 403). Sockets
time out, so a stuck client cannot hang a test.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "arm-test-token-5e1b"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1."""

    ca_cert: str
    server_cert: str
    server_key: str


def make_tls(directory: Path) -> TlsFiles | None:
    """Make the certificates with openssl; None when openssl is not installed."""
    if shutil.which("openssl") is None:
        return None
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)

    openssl(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=arm-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
    )  # fmt: skip
    return TlsFiles(str(directory / "ca.crt"), str(directory / "server.crt"), str(directory / "server.key"))


def vm_sku(
    name: str,
    family: str,
    vcpus: int,
    memory_gb: float,
    *,
    region: str = "eastus",
    zones: tuple[str, ...] = ("1", "2", "3"),
    restrictions: list[dict[str, Any]] | None = None,
    gpus: int | None = None,
) -> dict[str, Any]:
    """A virtualMachines entry of the resource SKU list, as ARM returns it."""
    capabilities = [{"name": "vCPUs", "value": str(vcpus)}, {"name": "MemoryGB", "value": str(memory_gb)}]
    if gpus is not None:
        capabilities.append({"name": "GPUs", "value": str(gpus)})
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "tier": "Standard",
        "size": name.removeprefix("Standard_"),
        "family": family,
        "locations": [region],
        "locationInfo": [{"location": region, "zones": list(zones), "zoneDetails": []}],
        "capabilities": capabilities,
        "restrictions": restrictions or [],
    }


def usage(name: str, current: int, limit: int) -> dict[str, Any]:
    """One entry of the usages list."""
    return {"unit": "Count", "currentValue": current, "limit": limit, "name": {"value": name, "localizedValue": name}}


class ArmStandIn:
    """The stand-in server; use as a context manager."""

    def __init__(self, tls: TlsFiles, skus: list[dict], usages: list[dict]):
        self.tls = tls
        self.skus = skus
        self.usages = usages
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []
        self._faults: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.timeout = 5
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ArmStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """The base URL to give the SDK client."""
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, count: int, status: int) -> None:
        """Answer the next `count` requests with `status`."""
        with self._lock:
            self._faults += [status] * count

    def take_fault(self) -> int | None:
        """The status of the next injected fault, if any."""
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict]:
        """The response to one GET."""
        prefix = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Compute/"
        if not path.startswith(prefix):
            return 404, {"error": {"code": "SubscriptionNotFound", "message": f"no subscription in {path}"}}
        rest = path[len(prefix) :]
        if rest == "skus":
            region = query.get("$filter", [""])[0].removeprefix("location eq '").removesuffix("'")
            return 200, {"value": [s for s in self.skus if region in s["locations"]]}
        if rest.startswith("locations/") and rest.endswith("/usages"):
            return 200, {"value": self.usages}
        return 404, {"error": {"code": "NotFound", "message": path}}


def _handler_for(stand_in: ArmStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            parts = urlsplit(self.path)
            stand_in.requests.append(parts.path)
            stand_in.authorizations.append(self.headers.get("Authorization"))
            fault = stand_in.take_fault()
            if fault is not None:
                self._send(fault, {"error": {"code": "Injected", "message": f"injected HTTP {fault}"}})
            elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad token"}})
            else:
                self._send(*stand_in.answer(parts.path, parse_qs(parts.query)))

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

    return Handler
