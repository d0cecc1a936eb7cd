"""The preflight picks the credential the azure-native provider would use, and never guesses a managed identity."""

from __future__ import annotations

import json

from azure.identity import (
    AzureCliCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from aks_gpu.preflight import identity

TENANT = "11111111-0000-0000-0000-000000000000"
CLIENT = "22222222-0000-0000-0000-000000000000"


def pick(config=None, env=None, az: str | None = "/usr/bin/az"):
    return identity.credential(identity.Settings(config or {}, env or {}), which=lambda _: az)


def test_service_principal_secret_comes_first():
    env = {"ARM_TENANT_ID": TENANT, "ARM_CLIENT_ID": CLIENT, "ARM_CLIENT_SECRET": "s", "ARM_USE_MSI": "true"}
    found, source = pick(env=env)
    assert isinstance(found, ClientSecretCredential) and "client secret" in source


def test_oidc_token_from_config_or_environment():
    found, _ = pick({"useOidc": "true", "oidcToken": "jwt", "tenantId": TENANT, "clientId": CLIENT})
    assert isinstance(found, ClientAssertionCredential)
    found, _ = pick(
        env={"ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": "jwt", "ARM_TENANT_ID": TENANT, "ARM_CLIENT_ID": CLIENT}
    )
    assert isinstance(found, ClientAssertionCredential)


def test_workload_identity_from_its_token_file(tmp_path):
    token = tmp_path / "token"
    token.write_text("jwt")
    env = {"AZURE_FEDERATED_TOKEN_FILE": str(token), "AZURE_CLIENT_ID": CLIENT, "AZURE_TENANT_ID": TENANT}
    found, _ = pick(env=env)
    assert isinstance(found, WorkloadIdentityCredential)


def test_managed_identity_only_when_something_says_it_exists():
    found, _ = pick(env={"ARM_USE_MSI": "true"})
    assert isinstance(found, ManagedIdentityCredential)
    found, _ = pick(env={"IDENTITY_ENDPOINT": "http://127.0.0.1:41000/msi/token", "AZURE_CLIENT_ID": CLIENT})
    assert isinstance(found, ManagedIdentityCredential)
    # A client id alone, or nothing at all, never turns into an instance-metadata probe.
    for env in ({}, {"AZURE_CLIENT_ID": CLIENT}, {"ARM_USE_MSI": "false"}):
        found, _ = pick(env=env)
        assert isinstance(found, AzureCliCredential)
        found, why = pick(env=env, az=None)
        assert found is None and why.startswith("no Azure credentials")


def test_subscription_from_config_environment_then_cli_profile(tmp_path):
    (tmp_path / "azureProfile.json").write_text(
        "\ufeff" + json.dumps({"subscriptions": [{"id": "other"}, {"id": "cli-default", "isDefault": True}]}),
        encoding="utf-8",
    )
    env = {"AZURE_CONFIG_DIR": str(tmp_path)}
    assert identity.subscription_id(identity.Settings({}, env))[0] == "cli-default"
    assert identity.subscription_id(identity.Settings({}, {**env, "ARM_SUBSCRIPTION_ID": "arm"}))[0] == "arm"
    both = identity.Settings({"subscriptionId": "config"}, {**env, "ARM_SUBSCRIPTION_ID": "arm"})
    assert identity.subscription_id(both)[0] == "config"
    assert identity.subscription_id(identity.Settings({}, {"AZURE_CONFIG_DIR": str(tmp_path / "none")}))[0] == ""
