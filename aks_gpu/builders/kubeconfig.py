"""Kubeconfig rewriting for Microsoft Entra ID clusters, as `kubelogin convert-kubeconfig -l MODE` does it.

AKS hands out kubeconfigs whose users run `kubelogin get-token --login devicecode`,
which waits for a person. `convert_kubeconfig` rewrites every kubelogin user (and
every legacy `azure` auth-provider user) to a non-interactive login mode with the
exec arguments kubelogin's own converter (Azure/kubelogin pkg/internal/converter)
writes when given only `--login MODE`: the converter's optional flags (tenant,
client ID, secrets) are never passed here, so whatever they would carry comes from
the environment kubelogin runs in, as kubelogin documents for each mode.

Pure functions over text: no Pulumi, no files. Errors name users and keys, never values.
"""

from __future__ import annotations

from typing import Any

import yaml

from aks_gpu.facts.entra import KUBELOGIN, KUBELOGIN_DEFAULT_LOGIN, KUBELOGIN_EXEC_API_VERSION

INSTALL_HINT = """
kubelogin is not installed which is required to connect to AAD enabled cluster.

To learn more, please go to https://azure.github.io/kubelogin/
"""

# Legacy `auth-provider: {name: azure}` config keys -> the exec flags they become.
_LEGACY_KEYS = {"--server-id": "apiserver-id", "--client-id": "client-id", "--tenant-id": "tenant-id"}


class KubeconfigConversionError(ValueError):
    """The kubeconfig cannot be converted; the message names the user and what is missing."""


def _users(config: dict[str, Any]) -> list[dict[str, Any]]:
    users = config.get("users")
    return (
        [u for u in users if isinstance(u, dict) and isinstance(u.get("user"), dict)] if isinstance(users, list) else []
    )


def _is_kubelogin_exec(user: dict[str, Any]) -> bool:
    command = (user.get("exec") or {}).get("command") if isinstance(user.get("exec"), dict) else None
    return isinstance(command, str) and KUBELOGIN in command.lower()


def _is_legacy_azure(user: dict[str, Any]) -> bool:
    provider = user.get("auth-provider")
    return isinstance(provider, dict) and provider.get("name") == "azure"


def _exec_arg(args: list[str], flag: str) -> str:
    """The value after `flag` in `args` ('' when absent), as kubelogin's getExecArg reads it."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return str(args[index + 1])
    return ""


def login_mode(user: dict[str, Any]) -> str | None:
    """The --login of a kubelogin exec user (kubelogin's default when absent); None for other users."""
    if _is_legacy_azure(user):
        return KUBELOGIN_DEFAULT_LOGIN
    if not _is_kubelogin_exec(user):
        return None
    args = [str(a) for a in user["exec"].get("args") or []]
    return _exec_arg(args, "--login") or _exec_arg(args, "-l") or KUBELOGIN_DEFAULT_LOGIN


def kubelogin_login_modes(kubeconfig: str) -> dict[str, str]:
    """Each kubelogin (or legacy azure) user of the kubeconfig text, by name, with its login mode."""
    config = yaml.safe_load(kubeconfig)
    if not isinstance(config, dict):
        return {}
    modes = {str(u.get("name")): login_mode(u["user"]) for u in _users(config)}
    return {name: mode for name, mode in modes.items() if mode is not None}


def _existing_values(user: dict[str, Any]) -> dict[str, Any]:
    """What the converter carries over from the user: IDs, environment, legacy mode, cache dir, PoP."""
    if _is_legacy_azure(user):
        config = user["auth-provider"].get("config") or {}
        values: dict[str, Any] = {flag: str(config.get(key) or "") for flag, key in _LEGACY_KEYS.items()}
        values["--environment"] = str(config.get("environment") or "")
        values["--legacy"] = str(config.get("config-mode") or "") in ("", "0")
        return values
    args = [str(a) for a in user["exec"].get("args") or []]
    values = {flag: _exec_arg(args, flag) for flag in ("--server-id", "--client-id", "--tenant-id", "--environment")}
    values["--cache-dir"] = _exec_arg(args, "--cache-dir") or _exec_arg(args, "--token-cache-dir")
    values["--legacy"] = "--legacy" in args
    values["--pop-enabled"] = "--pop-enabled" in args
    values["--pop-claims"] = _exec_arg(args, "--pop-claims")
    return values


def _required(values: dict[str, Any], flag: str, name: str, mode: str) -> list[str]:
    if not values.get(flag):
        raise KubeconfigConversionError(
            f"The kubeconfig user {name!r} has no {flag}, which kubelogin's {mode} login needs."
        )
    return [flag, values[flag]]


def _pop_args(values: dict[str, Any], name: str) -> list[str]:
    enabled, claims = bool(values.get("--pop-enabled")), values.get("--pop-claims") or ""
    if enabled != bool(claims):
        raise KubeconfigConversionError(
            f"The kubeconfig user {name!r} has only one of --pop-enabled and --pop-claims; kubelogin needs both."
        )
    return ["--pop-enabled", "--pop-claims", claims] if enabled else []


def _mode_args(mode: str, values: dict[str, Any], name: str) -> list[str]:
    """The arguments kubelogin's converter adds for `mode` when no optional flag is given."""
    if mode == "spn":
        args = _required(values, "--client-id", name, mode) + _required(values, "--tenant-id", name, mode)
        if values.get("--environment"):
            args += ["--environment", values["--environment"]]
        if values.get("--legacy"):
            args.append("--legacy")
        return args + _pop_args(values, name)
    if mode == "azurepipelines":
        return _required(values, "--tenant-id", name, mode)
    # azurecli, azd, msi and workloadidentity take their identity from the
    # environment (or the CLI's sign-in); the converter adds nothing for them.
    return []


def converted_exec(user: dict[str, Any], mode: str, name: str) -> dict[str, Any]:
    """The exec section kubelogin's converter writes for a kubelogin or legacy azure `user`."""
    values = _existing_values(user)
    args = ["get-token", "--login", mode, *_required(values, "--server-id", name, mode)]
    if values.get("--cache-dir"):
        args += ["--cache-dir", values["--cache-dir"]]
    args += _mode_args(mode, values, name)
    exec_value = user.get("exec")
    old_exec: dict[str, Any] = exec_value if isinstance(exec_value, dict) else {}
    return {
        "apiVersion": KUBELOGIN_EXEC_API_VERSION,
        "args": args,
        "command": KUBELOGIN,
        # The converter starts from an empty exec: env set before does not survive.
        "env": None,
        "installHint": old_exec.get("installHint") or INSTALL_HINT,
        "provideClusterInfo": False,
    }


def convert_kubeconfig(kubeconfig: str, mode: str) -> str:
    """Every kubelogin or legacy azure user of `kubeconfig` rewritten to log in with `mode`.

    A kubeconfig without such users (local accounts: a client certificate or a
    token) is returned unchanged, byte for byte.
    """
    config = yaml.safe_load(kubeconfig)
    if not isinstance(config, dict):
        raise KubeconfigConversionError("The cluster's kubeconfig is not a YAML mapping.")
    converted = False
    for entry in _users(config):
        user = entry["user"]
        if login_mode(user) is None:
            continue
        user["exec"] = converted_exec(user, mode, str(entry.get("name")))
        user.pop("auth-provider", None)
        converted = True
    if not converted:
        return kubeconfig
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
