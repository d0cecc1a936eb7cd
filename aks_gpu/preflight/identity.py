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

azure-identity is imported inside `credential`, once a source is chosen: the
program imports this module on every run, also when no preflight runs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # azure-identity is imported where it is used: see the module docstring
    from azure.core.credentials import TokenCredential

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


def _source(settings: Settings, which: Callable[[str], str | None]) -> str | None:
    """Which of the provider's credential sources applies, in its order, without touching azure-identity."""
    tenant, client, env = settings.get("tenantId"), settings.get("clientId"), settings.env
    if tenant and client and settings.get("clientSecret"):
        return "secret"
    if tenant and client and settings.flag("useOidc") and _token_reader(settings):
        return "oidc"
    if env.get("AZURE_FEDERATED_TOKEN_FILE") and env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID"):
        return "workload"
    if settings.flag("useMsi") or (env.get("IDENTITY_ENDPOINT") and (client or env.get("AZURE_CLIENT_ID"))):
        return "msi"
    return "cli" if which("az") else None


def credential(settings: Settings, which: Callable[[str], str | None] = shutil.which) -> tuple[Any, str]:
    """The credential the provider would use and a description, or (None, why there is none)."""
    source = _source(settings, which)
    if source is None:
        return None, (
            "no Azure credentials: no service principal, OIDC token or managed identity is configured "
            "(azure-native config or ARM_* variables) and the Azure CLI (az) is not installed"
        )
    import azure.identity as sdk  # only now: see the module docstring

    tenant, client, env = settings.get("tenantId"), settings.get("clientId"), settings.env
    if source == "secret":
        return sdk.ClientSecretCredential(tenant, client, settings.get("clientSecret")), (
            "service principal (client secret)"
        )
    if source == "oidc":
        reader = _token_reader(settings)
        assert reader is not None  # _source chose OIDC because there is a token to read
        return sdk.ClientAssertionCredential(tenant, client, reader), "OIDC token (useOidc)"
    if source == "workload":
        workload = sdk.WorkloadIdentityCredential(
            tenant_id=env["AZURE_TENANT_ID"],
            client_id=env["AZURE_CLIENT_ID"],
            token_file_path=env["AZURE_FEDERATED_TOKEN_FILE"],
        )
        return workload, "workload identity (AZURE_FEDERATED_TOKEN_FILE)"
    if source == "msi":
        managed = sdk.ManagedIdentityCredential(client_id=client or env.get("AZURE_CLIENT_ID") or None)
        return managed, "managed identity"
    return sdk.AzureCliCredential(tenant_id=tenant, process_timeout=CLI_TIMEOUT_SECONDS), "Azure CLI sign-in"


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
