"""Remove credential-like text from anything the verifier quotes (plugin stderr, server bodies).

Errors become `pulumi up` errors and CI logs, so a token an exec plugin prints
by mistake must not travel with them. The patterns are deliberately broad: a
false positive costs a `[redacted]` in a message, a false negative a leaked
credential.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_PATTERNS = (
    # JWTs (Entra access/refresh tokens, OIDC assertions): three base64url parts, the first `eyJ`.
    re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*\.?[A-Za-z0-9_\-]*"),
    # `Authorization: Bearer X`, `bearer X`, `Basic X`.
    re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"),
    # key=value / key: value / "key": "value" for secret-ish keys.
    re.compile(
        r"(?i)[\"']?\b[\w\-]*(token|secret|password|passwd|assertion|key|signature|sig|code|credential)s?[\w\-]*"
        r"[\"']?\s*[:=]\s*[\"']?[^\s\"',;&]+"
    ),
    # PEM blocks.
    re.compile(r"-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)"),
    # Long base64/base64url/hex runs (keys, secrets, certificate data); GUIDs are shorter per run.
    re.compile(r"[A-Za-z0-9+/_\-]{24,}={0,2}"),
)


def redact(text: str) -> str:
    """`text` with token-like runs replaced by `[redacted]` (JWTs, bearer values, key=value secrets, PEM, long runs)."""
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redacted_tail(text: str, limit: int = 300) -> str:
    """The last `limit` characters of `text`, redacted first (so no secret is cut in two), on one line."""
    flat = " ".join(redact(text).split())
    return flat[-limit:]
