"""The OIDC issuer's signing keys: discovery document, then its JWKS, cached.

Only the administrator's issuer (ENVELOPE_OIDC_GITHUB_ISSUER) is ever asked,
and only for keys under its own origin: nothing a caller sends (a token's
`iss`, a `jku` header) chooses an address this server fetches.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from envelope.errors import EnvelopeError, MintRefused

if TYPE_CHECKING:
    import jwt

KEYS_TTL = 10 * 60  # seconds a fetched key set is used before it is fetched again
REFRESH_AFTER_UNKNOWN_KID = 60  # seconds: an unknown key id refetches the set at most this often
FETCH_TIMEOUT = 10  # seconds per request to the issuer
MAX_DOCUMENT = 512 * 1024  # bytes: GitHub's documents are a few kilobytes


class IssuerUnavailable(EnvelopeError):
    """The issuer's keys could not be fetched: nothing is refused for good,
    the client may retry."""

    status = 503
    code = "issuer-unavailable"


Fetch = Callable[[str], dict[str, Any]]


def fetch_json(url: str) -> dict[str, Any]:
    """GET a JSON object, without following redirects (a redirect could
    leave the issuer's origin), at most MAX_DOCUMENT bytes."""
    import requests  # on use: every web process imports this module, few publish with OIDC

    try:
        with requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False, stream=True,
                          headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise IssuerUnavailable(f"The OIDC issuer answered {response.status_code} for {url}.")
            body = response.raw.read(MAX_DOCUMENT + 1, decode_content=True)
    except requests.RequestException as exc:
        raise IssuerUnavailable(f"The OIDC issuer could not be reached at {url}: {type(exc).__name__}.") from None
    if len(body) > MAX_DOCUMENT:
        raise IssuerUnavailable(f"The OIDC issuer's document at {url} is too large.")
    try:
        document = json.loads(body)
    except ValueError:
        raise IssuerUnavailable(f"The OIDC issuer's document at {url} is not JSON.") from None
    if not isinstance(document, dict):
        raise IssuerUnavailable(f"The OIDC issuer's document at {url} is not a JSON object.")
    return document


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


@dataclass
class IssuerKeys:
    """The signing keys of one issuer, by key id, fetched on first use and
    again after KEYS_TTL, or sooner (at most once a minute) when a token
    names a key id the set lacks: GitHub rotates its keys."""

    issuer: str
    fetch: Fetch = fetch_json
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched: float = float("-inf")  # time.monotonic() of the last fetch
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        """The public key `kid` names; MintRefused if the issuer has no such key."""
        with self._lock:
            now = time.monotonic()
            if now - self._fetched > KEYS_TTL:
                self._refresh(now)
            elif kid not in self._keys and now - self._fetched > REFRESH_AFTER_UNKNOWN_KID:
                self._refresh(now)
            key = self._keys.get(kid or "")
        if key is None:
            raise MintRefused("invalid-token", f"The token was signed with a key ({kid!r}) the issuer does not publish.")
        return key

    def _refresh(self, now: float) -> None:
        discovery = self.fetch(f"{self.issuer}/.well-known/openid-configuration")
        if discovery.get("issuer") != self.issuer:
            raise IssuerUnavailable(
                f"The discovery document of {self.issuer} names another issuer ({discovery.get('issuer')!r})."
            )
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or _origin(jwks_uri) != _origin(self.issuer):
            raise IssuerUnavailable(f"The discovery document of {self.issuer} names keys outside the issuer.")
        import jwt  # on use, as in verification.py: PyJWT loads cryptography's X.509 and key types

        keys: dict[str, jwt.PyJWK] = {}
        for entry in self.fetch(jwks_uri).get("keys") or []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK.from_dict(entry, algorithm="RS256")
            except jwt.PyJWTError:
                continue  # a malformed key is no key; the others still work
        if not keys:
            raise IssuerUnavailable(f"The issuer {self.issuer} publishes no RSA signing keys.")
        self._keys, self._fetched = keys, now


_CACHE: dict[str, IssuerKeys] = {}
_CACHE_LOCK = threading.Lock()


def issuer_keys(issuer: str) -> IssuerKeys:
    """The process's one key cache for `issuer` (the configured issuer)."""
    with _CACHE_LOCK:
        if issuer not in _CACHE:
            _CACHE[issuer] = IssuerKeys(issuer)
        return _CACHE[issuer]
