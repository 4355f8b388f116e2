"""What a log line may show of a request: never a credential.

Credentials travel in the Authorization header (never logged), but people
and scripts also put them where logs look: a token pasted into a query
string (`?token=envl_…`), a URL with userinfo sent in absolute form, a
token by mistake in a path, and Envelope's own emailed links carry one-time
secrets in their path (`/reset-password/…`, `/invitations/…`). The access
log passes every request target and header value it shows through
`redact_target` / `redact_text` first.
"""
from __future__ import annotations

import re
from urllib.parse import unquote_plus

from envelope.orgs.token_prefix import PREFIX

MASK = "***"
# Query parameters whose value is a secret whatever else they hold.
SECRET_PARAMETERS = frozenset({
    "token", "access_token", "refresh_token", "id_token", "password", "passwd", "pwd", "secret",
    "client_secret", "api_key", "apikey", "key", "auth", "authorization", "code", "invitation",
    "signature", "sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "session",
    "state",  # the GitHub App round trips: bound to a session, as good as a CSRF token
})
_SECRET_WORDS = ("token", "password", "secret", "signature", "credential")
# Paths whose next segment is a one-time secret from an email.
_SECRET_PATHS = re.compile(r"^(/(?:reset-password|invitations)/)[^/?#]+")
_ENVELOPE_TOKEN = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9]+")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")


def redact_text(text: str) -> str:
    """`text` with anything that looks like an Envelope token masked."""
    return _ENVELOPE_TOKEN.sub(PREFIX + MASK, text)


def _is_secret(name: str) -> bool:
    name = name.lower()
    return name in SECRET_PARAMETERS or any(word in name for word in _SECRET_WORDS)


def redact_query(query: str) -> str:
    """A query string with the values of secret-named parameters masked."""
    parts = []
    for part in query.split("&"):
        raw_name, sep, _value = part.partition("=")
        parts.append(f"{raw_name}={MASK}" if sep and _is_secret(unquote_plus(raw_name)) else part)
    return "&".join(parts)  # as sent, but for the masked values


def redact_target(target: str) -> str:
    """A request target (path and query, or an absolute URL) fit for a log."""
    if not ("?" in target or "@" in target or PREFIX in target or _SECRET_PATHS.match(target)):
        return target  # nothing a mask below would touch (every pip and uv request): four times faster
    target = _USERINFO.sub(r"\1", target)
    path, sep, query = target.partition("?")
    path = _SECRET_PATHS.sub(r"\1" + MASK, path)
    return redact_text(path + sep + redact_query(query))
