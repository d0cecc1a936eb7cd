"""Keeps every test off the real Azure: no sign-in of the machine running the tests reaches the preflight."""

from __future__ import annotations

import os

import pytest

# Where azure-identity and the azure-native provider look for credentials and the subscription.
_AZURE_ENVIRONMENT = ("ARM_", "AZURE_", "IDENTITY_", "MSI_", "ACTIONS_ID_TOKEN_")


@pytest.fixture(autouse=True)
def no_azure_sign_in(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No Azure environment variables, and an empty Azure CLI profile folder (no default subscription)."""
    for name in list(os.environ):
        if name.startswith(_AZURE_ENVIRONMENT):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path_factory.mktemp("azure-cli-profile")))
