"""Faults end the verification fast and clearly, or back off: over HTTP and HTTPS.

Untrusted certificates end at once with exit 2; connection refused names its
cause; a watch that always expires, a slow server and bad watch lines neither
flood the server, overrun the deadline nor raise a traceback.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aks_gpu.verifier import Backoff, ClusterAccessError, GpuTimeoutError, GpuWaiter, api_client_from_kubeconfig
from aks_gpu.verifier.cli import main
from tests.support.kube_api_server import KubeApiServer, gpu_node

RESULT = 15  # seconds a test waits for a background check; never reached when green


def watch_versions(server: KubeApiServer) -> list[str]:
    return [r.query["resourceVersion"] for r in server.requests if r.is_watch]


def test_an_untrusted_server_certificate_fails_at_once_with_exit_2(tls_files, tmp_path, capsys):
    other_ca = (Path(tls_files.ca_cert).parent / "other-ca.crt").read_bytes()
    with KubeApiServer(tls=tls_files) as server:
        server.put_node(gpu_node("aks-gpu-0"))
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(server.kubeconfig(ca_data=other_ca))

        started = time.monotonic()
        code = main(["--kubeconfig", str(kubeconfig), "--expected-gpus", "1", "--timeout", "120"])
        elapsed = time.monotonic() - started

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert elapsed < 20  # seconds, not the 120 s timeout
    assert f"The certificate of the API server {server.url} is not trusted" in err
    # OpenSSL's whole reason, not cut off.
    assert re.search(
        r"certificate verify failed: (self-signed certificate in certificate chain|unable to get local issuer "
        r"certificate)\. The kubeconfig's certificate authority does not match this server",
        err,
    )
    assert "fetch fresh cluster credentials" in err
    assert "retrying" not in err


def test_an_untrusted_certificate_is_a_cluster_access_error(tls_files):
    other_ca = (Path(tls_files.ca_cert).parent / "other-ca.crt").read_bytes()
    with KubeApiServer(tls=tls_files) as server:
        with api_client_from_kubeconfig(server.kubeconfig(ca_data=other_ca)) as api:
            with pytest.raises(ClusterAccessError, match="not trusted"):
                GpuWaiter(api, 1, timeout=120).run()


def test_connection_refused_names_its_cause(served, tmp_path, capsys):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(served.kubeconfig())
    served.stop()  # nothing listens on its port any more

    code = main(["--kubeconfig", str(kubeconfig), "--expected-gpus", "1", "--timeout", "2"])

    _, err = capsys.readouterr()
    assert code == 1
    cause = f"cannot reach {served.url}: ConnectionRefusedError: [Errno 111] Connection refused"
    assert f"Last API error: {cause}" in err
    assert f"API error ({cause}); retrying in" in err


@pytest.mark.parametrize("as_event", [True, False], ids=["error-event", "http-410"])
def test_a_watch_that_always_expires_backs_off(served, served_api, as_event):
    served.put_node(gpu_node("aks-gpu-0", allocatable=0))
    served.expire_every_watch(as_event=as_event)
    progress: list[str] = []

    with pytest.raises(GpuTimeoutError):
        GpuWaiter(served_api, 1, timeout=3, progress=progress.append).run()

    # Backoff of 0.25-0.5, 0.5-1, 1-2 s between cycles of one list and one watch.
    assert served.count() <= 14
    assert served.count(watch=True) >= 2
    assert any("The watch expired again (410 Gone); retrying in" in line for line in progress)


@pytest.mark.parametrize("page_size", [1, 500], ids=["paged-list", "list-then-watch"])
def test_a_slow_server_does_not_overrun_the_deadline(served, served_api, page_size):
    served.put_nodes([gpu_node(f"aks-gpu-{i}", allocatable=0) for i in range(6)])
    served.delay_every_request(2.0)

    started = time.monotonic()
    with pytest.raises(GpuTimeoutError) as caught:
        GpuWaiter(served_api, 1, timeout=5, page_size=page_size).run()
    elapsed = time.monotonic() - started

    assert elapsed < 9  # about 7 s: the timeout plus one request's latency
    assert "Timed out after 5s" in str(caught.value)


@pytest.mark.parametrize(
    "line",
    [
        "<html>502 Bad Gateway</html>",
        '{"type": "ADDED", "object": {"kind": "Node"',
        "[1, 2, 3]",
        '{"type": "ADDED"}',
        '{"type": "MODIFIED", "object": {"metadata": {"resourceVersion": "7"}}}',
    ],
    ids=["html", "cut-json", "json-list", "no-object", "no-name"],
)
def test_a_malformed_watch_line_resumes_the_watch_without_a_traceback(served, served_api, line):
    listed = served.put_node(gpu_node("aks-gpu-0", allocatable=0))
    served.garble_next_watch(line)
    progress: list[str] = []
    waiter = GpuWaiter(served_api, 1, RESULT, progress=progress.append, backoff=Backoff(initial=0.01, maximum=0.05))
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(waiter.run)
        served.wait_for_watch(2)
        served.put_node(gpu_node("aks-gpu-0"))
        report = result.result(RESULT)

    assert report.verified == 1
    assert watch_versions(served) == [listed, listed]  # resumed, not listed again
    assert served.count(watch=False) == 1
    assert any(entry.startswith("API error (the watch sent") and "retrying in" in entry for entry in progress)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", b"<html><body>502 Bad Gateway</body></html>"),
        ("application/json", b'{"kind": "NodeList", "items": [{"metadata": {"name": "aks-gpu-0"'),
    ],
    ids=["proxy-html", "truncated-json"],
)
def test_a_bad_node_list_is_listed_again(served, served_api, content_type, body):
    served.put_node(gpu_node("aks-gpu-0"))
    served.garble_next_list(body, content_type)
    progress: list[str] = []

    report = GpuWaiter(
        served_api, 1, RESULT, progress=progress.append, backoff=Backoff(initial=0.01, maximum=0.05)
    ).run()

    assert report.verified == 1
    assert served.count(watch=False) == 2
    assert any("node list was not a JSON object" in entry and "retrying in" in entry for entry in progress)


@pytest.mark.parametrize("server", [None, "", "aks.example:443"], ids=["missing", "empty", "no-scheme"])
def test_a_cluster_without_a_usable_server_is_bad_input(tmp_path, capsys, server):
    cluster = {} if server is None else {"server": server}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "aks", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "u"}}],
                "current-context": "aks",
            }
        )
    )

    code = main(["--kubeconfig", str(kubeconfig), "--expected-gpus", "1", "--timeout", "30"])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert "has no usable server" in err
