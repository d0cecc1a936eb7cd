"""`convert_kubeconfig` against the shapes kubelogin's own converter handles."""

from __future__ import annotations

import pytest
import yaml

from aks_gpu.builders.kubeconfig import KubeconfigConversionError, convert_kubeconfig, kubelogin_login_modes
from aks_gpu.facts.entra import AKS_SERVER_APP_ID
from tests.support.harness import FAKE_ENTRA_KUBECONFIG, FAKE_KUBECONFIG, FAKE_TENANT


def only_user(text: str) -> dict:
    [user] = yaml.safe_load(text)["users"]
    return user["user"]


def test_the_aks_devicecode_kubeconfig_is_detected_and_converted():
    assert kubelogin_login_modes(FAKE_ENTRA_KUBECONFIG) == {"clusterUser_rg_aks": "devicecode"}
    converted = convert_kubeconfig(FAKE_ENTRA_KUBECONFIG, "azurecli")
    assert kubelogin_login_modes(converted) == {"clusterUser_rg_aks": "azurecli"}
    config = yaml.safe_load(converted)
    # Everything but the user's exec is kept: clusters, contexts, current context.
    original = yaml.safe_load(FAKE_ENTRA_KUBECONFIG)
    assert config["clusters"] == original["clusters"]
    assert (config["contexts"], config["current-context"]) == (original["contexts"], original["current-context"])


def test_a_local_account_kubeconfig_is_returned_byte_for_byte():
    assert kubelogin_login_modes(FAKE_KUBECONFIG) == {}
    assert convert_kubeconfig(FAKE_KUBECONFIG, "azurecli") is FAKE_KUBECONFIG


def test_a_legacy_azure_auth_provider_becomes_a_kubelogin_exec():
    legacy = yaml.safe_load(FAKE_KUBECONFIG)
    legacy["users"][0]["user"] = {
        "auth-provider": {
            "name": "azure",
            "config": {
                "apiserver-id": AKS_SERVER_APP_ID,
                "client-id": "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
                "tenant-id": FAKE_TENANT,
                "environment": "AzurePublicCloud",
                "config-mode": "1",
            },
        }
    }
    user = only_user(convert_kubeconfig(yaml.safe_dump(legacy), "azurepipelines"))
    assert "auth-provider" not in user
    assert user["exec"]["args"] == [
        "get-token", "--login", "azurepipelines", "--server-id", AKS_SERVER_APP_ID, "--tenant-id", FAKE_TENANT,
    ]  # fmt: skip


def test_a_kubeconfig_without_the_server_id_is_refused_by_name():
    broken = FAKE_ENTRA_KUBECONFIG.replace(f"      - --server-id\n      - {AKS_SERVER_APP_ID}\n", "")
    with pytest.raises(KubeconfigConversionError, match="'clusterUser_rg_aks' has no --server-id"):
        convert_kubeconfig(broken, "azurecli")
