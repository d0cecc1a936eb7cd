"""The credential and subscription the azure-native provider would use, as azure-identity objects.

The provider takes, in this order: a service principal secret (clientId,
clientSecret, tenantId), an OIDC token (useOidc), a managed identity (useMsi),
then the Azure CLI's sign-in. Each setting comes from the `azure-native:` config
or its ARM_* environment variable. This module picks the same source, so the
preflight reads Azure as the identity that will deploy.

Managed identity is only used when something says one exists (useMsi /
ARM_USE_MSI, or IDENTITY_ENDPOINT as App Service, Functions and Arc set it): on
any other machine azure-identity would probe the instance metadata endpoint
169.254.169.254, which waits for a timeout off Azure and may answer for a
different identity on an Azure VM.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import (
    AzureCliCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

# azure-native config key -> the environment variable the provider reads instead.
_ENVIRONMENT = {
    "subscriptionId": "ARM_SUBSCRIPTION_ID",
    "tenantId": "ARM_TENANT_ID",
    "clientId": "ARM_CLIENT_ID",
    "clientSecret": "ARM_CLIENT_SECRET",
    "useOidc": "ARM_USE_OIDC",
    "oidcToken": "ARM_OIDC_TOKEN",
    "useMsi": "ARM_USE_MSI",
}
# Seconds the Azure CLI may take to hand out a token before the preflight gives up on it.
CLI_TIMEOUT_SECONDS = 20


@dataclasses.dataclass(frozen=True)
class Identity:
    """A credential and the subscription it deploys to, with a description for messages."""

    credential: TokenCredential
    subscription_id: str
    source: str


class Settings:
    """azure-native provider settings: config first, then the provider's ARM_* environment variables."""

    def __init__(self, provider_config: Mapping[str, str | None], env: Mapping[str, str]):
        self._config = provider_config
        self.env = env

    def get(self, key: str) -> str:
        """The setting's value, '' when unset."""
        value = self._config.get(key) or self.env.get(_ENVIRONMENT[key], "")
        return str(value).strip()

    def flag(self, key: str) -> bool:
        """A true/false setting."""
        return self.get(key).lower() == "true"


def cli_subscription(env: Mapping[str, str], home: Path | None = None) -> str:
    """The Azure CLI's default subscription from its profile file ('' when there is none)."""
    folder = Path(env["AZURE_CONFIG_DIR"]) if env.get("AZURE_CONFIG_DIR") else (home or Path.home()) / ".azure"
    try:
        profile = json.loads((folder / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return ""
    subscriptions = profile.get("subscriptions") if isinstance(profile, dict) else None
    default = next((s for s in subscriptions or [] if isinstance(s, dict) and s.get("isDefault")), {})
    return str(default.get("id", ""))


def subscription_id(settings: Settings, home: Path | None = None) -> tuple[str, str]:
    """The subscription to check and where it came from (azure-native config, environment, Azure CLI)."""
    if settings.get("subscriptionId"):
        return settings.get("subscriptionId"), "azure-native:subscriptionId / ARM_SUBSCRIPTION_ID"
    if settings.env.get("AZURE_SUBSCRIPTION_ID"):
        return settings.env["AZURE_SUBSCRIPTION_ID"], "AZURE_SUBSCRIPTION_ID"
    found = cli_subscription(settings.env, home)
    return found, "the Azure CLI's default subscription" if found else ""


def _token_reader(settings: Settings) -> Callable[[], str] | None:
    """A function returning the OIDC token the provider would use, or None when there is none to read."""
    token = settings.get("oidcToken")
    if token:
        return lambda: token
    path = settings.env.get("ARM_OIDC_TOKEN_FILE_PATH")
    if path:
        return lambda: Path(path).read_text().strip()
    return None


def credential(settings: Settings, which: Callable[[str], str | None] = shutil.which) -> tuple[Any, str]:
    """The credential the provider would use and a description, or (None, why there is none)."""
    tenant, client = settings.get("tenantId"), settings.get("clientId")
    env = settings.env
    if tenant and client and settings.get("clientSecret"):
        return ClientSecretCredential(tenant, client, settings.get("clientSecret")), "service principal (client secret)"
    reader = _token_reader(settings) if settings.flag("useOidc") else None
    if tenant and client and reader:
        return ClientAssertionCredential(tenant, client, reader), "OIDC token (useOidc)"
    if env.get("AZURE_FEDERATED_TOKEN_FILE") and env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID"):
        workload = WorkloadIdentityCredential(
            tenant_id=env["AZURE_TENANT_ID"],
            client_id=env["AZURE_CLIENT_ID"],
            token_file_path=env["AZURE_FEDERATED_TOKEN_FILE"],
        )
        return workload, "workload identity (AZURE_FEDERATED_TOKEN_FILE)"
    if settings.flag("useMsi") or (env.get("IDENTITY_ENDPOINT") and (client or env.get("AZURE_CLIENT_ID"))):
        return ManagedIdentityCredential(client_id=client or env.get("AZURE_CLIENT_ID") or None), "managed identity"
    if which("az"):
        return AzureCliCredential(tenant_id=tenant or None, process_timeout=CLI_TIMEOUT_SECONDS), "Azure CLI sign-in"
    return None, (
        "no Azure credentials: no service principal, OIDC token or managed identity is configured "
        "(azure-native config or ARM_* variables) and the Azure CLI (az) is not installed"
    )


def identity(
    settings: Settings, which: Callable[[str], str | None] = shutil.which, home: Path | None = None
) -> tuple[Identity | None, str]:
    """The identity the preflight reads Azure as, or (None, why it cannot)."""
    subscription, where = subscription_id(settings, home)
    if not subscription:
        return None, (
            "no subscription: set azure-native:subscriptionId or ARM_SUBSCRIPTION_ID, "
            "or sign in with az login (its default subscription is used)"
        )
    found, source = credential(settings, which)
    if found is None:
        return None, source
    return Identity(found, subscription, f"{source}, subscription {subscription} from {where}"), ""
