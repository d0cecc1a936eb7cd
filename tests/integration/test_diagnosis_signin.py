"""A sign-in that expires during a long wait is named with its cause and next step, not as a bare 401."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aks_gpu.facts.signin import SIGN_IN_FAILURES, sign_in_failure
from aks_gpu.verifier import ClusterAccessError, api_client_from_kubeconfig, wait_for_gpus
from tests.integration.test_exec_credentials import AZURECLI, exec_kubeconfig, standin
from tests.support.kube_api_server import KubeApiServer
from tests.support.kube_objects import gpu_node


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


EXPIRED = "AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-12-02T19:00:00Z"


def test_an_oidc_assertion_that_expires_mid_wait_is_named_not_reported_as_a_stale_kubeconfig(kube, bin_dir):
    # The first call signs in (a token about to expire); every renewal then fails
    # as a pipeline's expired OIDC token does.
    counter = bin_dir / "calls"
    standin(
        bin_dir,
        f"""
        n = (len(open({str(counter)!r}).read()) if os.path.exists({str(counter)!r}) else 0) + 1
        open({str(counter)!r}, "a").write("x")
        if n > 1:
            print({EXPIRED!r}, file=sys.stderr)
            sys.exit(1)
        from datetime import datetime, timedelta, timezone
        expiry = (datetime.now(timezone.utc) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                          "status": {{"token": "token-1", "expirationTimestamp": expiry}}}}))
        """,
    )
    kube.token = "token-2"  # the first token is refused: the API server answers 401
    kube.put_node(gpu_node("aks-gpu-0"))

    with api_client_from_kubeconfig(exec_kubeconfig(kube, AZURECLI), exec_timeout=10) as api:
        with pytest.raises(ClusterAccessError) as raised:
            wait_for_gpus(api, 1, 30)

    message = str(raised.value)
    assert "HTTP 401" in message
    assert "could not be renewed" in message
    assert "AADSTS700024" in message
    assert "federated client assertion" in message and "fresh OIDC token" in message
    assert "fetch fresh cluster credentials" not in message


@pytest.mark.parametrize("entry", SIGN_IN_FAILURES, ids=lambda entry: entry[0])
def test_every_known_sign_in_failure_is_found_in_the_tools_output(entry):
    signature, cause, step = entry
    assert sign_in_failure(f"Error: failed to get token: {signature.upper()}: details") == entry
    assert cause and step
