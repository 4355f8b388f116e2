"""The one front door: credentials -> a Caller inside the organization asked for.

HTTP Basic (a password or a token) and Bearer tokens all come through
verify()/authenticate_cached(); the web layer records a token's last use in
one place (web/machine/auth.py). Any error that depends on a private fact (does the
organization exist, does this token belong to it) is NotFound, identical to
a missing organization, so outsiders learn nothing. Only the credentials
themselves get Unauthorized.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from packaging.specifiers import SpecifierSet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from envelope.orgs.capabilities import Capability, member_capabilities
from envelope.errors import NotFound, Unauthorized
from envelope.orgs.identity import Caller, Restriction
from envelope.models import Membership, Organization, User
from envelope.models.base import utcnow
from envelope.accounts.passwords import verify_password
from envelope.orgs.tokens import PREFIX, find_token, needs_last_used_update, token_caller


@dataclass(frozen=True)
class Verified:
    caller: Caller
    # The token's last-used time is stale: the front door records this use
    # (in a write transaction of its own, off the read path).
    token_use_to_record: int | None = None


def verify(session: Session, org_name: str, username: str, password: str) -> Verified:
    """Verify credentials for `org_name` against the database; Unauthorized or NotFound otherwise.

    The organization's auth epoch is read before anything else, so a change
    that commits while this runs is either seen here or bumps the epoch past
    the one recorded in the Caller (which is then verified again)."""
    if password.startswith(PREFIX):
        # The epoch first (with the organization), then the token's state.
        org = session.execute(
            select(Organization.id, Organization.name, Organization.auth_epoch).where(Organization.name == org_name)
        ).first()
        token = find_token(session, password)
        if org is None or org.id != token.organization_id:
            raise _elsewhere(session, token.organization_id, org_name)
        stale = token.id if needs_last_used_update(token) else None
        return Verified(token_caller(session, token, org.name, org.auth_epoch), stale)
    return Verified(_member_by_password(session, org_name, username, password))


def _elsewhere(session: Session, token_org_id: int, org_name: str) -> NotFound:
    """A valid token used under another organization's URL (a copy-paste
    slip): name the token's own organization, which its holder knows anyway.
    The sentence depends only on the token, never on whether `org_name`
    exists, so it tells an outsider nothing."""
    own = session.scalar(select(Organization.name).where(Organization.id == token_org_id))
    return NotFound(
        f"Not Found: this token belongs to the organization {own!r}, not {org_name!r}; "
        f"use /{own}/simple/ to install and /{own}/legacy/ to upload."
    )


def authenticate(session: Session, org_name: str, username: str, password: str) -> Caller:
    """verify() without the bookkeeping: the Caller only."""
    return verify(session, org_name, username, password).caller


def _member_by_password(session: Session, org_name: str, username: str, password: str) -> Caller:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("Invalid username, password or token.")
    if user.totp_enabled:
        # A password alone must not get around two-factor sign-in.
        raise Unauthorized("This account uses two-factor authentication: use an access token.")
    row = session.execute(
        select(Organization.id, Organization.name, Organization.auth_epoch, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Organization.name == org_name, Membership.user_id == user.id)
    ).first()
    if row is None:
        raise NotFound("Not Found")
    return Caller(
        organization_id=row.id, label=f"user {user.username}", capabilities=member_capabilities(row.role),
        user_id=user.id, organization_name=row.name, role=row.role, noun="You", auth_epoch=row.auth_epoch,
    )


AUTH_CACHE_PREFIX = "auth:v2:"


def authenticate_cached(
    db, cache, secret_key: str, ttl: float, org_name: str, username: str, password: str
) -> Verified:
    """verify(), remembered for `ttl` seconds (ENVELOPE_AUTH_CACHE_SECONDS).

    The cache only saves work, it never decides: the Caller carries the auth
    epoch it was verified under, and whoever answers compares it with the
    organization's current epoch (read with the serial) and verifies again
    on a mismatch. An expired token is refused exactly on time, since the
    expiry is checked on every request. The cache key is an HMAC under the
    server's secret, so a cache dump reveals no credential. Only successes
    are cached: every failure goes to the database (and argon2)."""
    caller = cached_caller(cache, secret_key, org_name, username, password) if ttl > 0 else None
    if caller is not None:
        return Verified(caller)
    with db.read() as session:
        verified = verify(session, org_name, username, password)
    if ttl > 0:
        cache.set(cache_key(secret_key, org_name, username, password), freeze(verified.caller), ttl)
    return verified


def cached_caller(cache, secret_key: str, org_name: str, username: str, password: str) -> Caller | None:
    """The Caller these credentials were verified as within the auth cache's
    lifetime, or None when the cache does not know them (verify() decides
    then). Unauthorized once the token has expired. Like any cached Caller,
    it still has to be confirmed against the organization's current auth epoch."""
    cached = cache.get(cache_key(secret_key, org_name, username, password))
    if cached is None:
        return None
    caller = _thaw(cached)
    refuse_if_expired(caller.expires)
    return caller


def cache_key(secret_key: str, org_name: str, username: str, password: str) -> str:
    return AUTH_CACHE_PREFIX + hmac.new(
        secret_key.encode(), f"{org_name}\0{username}\0{password}".encode(), hashlib.sha256
    ).hexdigest()


def freeze(caller: Caller) -> bytes:
    """A Caller as bytes for the cache: values only, never a database row."""
    return json.dumps({
        "org": [caller.organization_id, caller.organization_name, caller.auth_epoch],
        "label": caller.label, "capabilities": sorted(c.value for c in caller.capabilities),
        "user_id": caller.user_id, "token_id": caller.token_id, "noun": caller.noun,
        "role": caller.role.value if caller.role else None, "scope": caller.scope,
        "expires": caller.expires.isoformat() if caller.expires else None,
        "restrictions": None if caller.restrictions is None
        else [[r.project, str(r.specifier)] for r in caller.restrictions],
    }).encode()


def refuse_if_expired(expires: datetime | None) -> None:
    if expires is not None and expires <= utcnow():
        raise Unauthorized(
            f"This access token expired on {expires:%Y-%m-%d %H:%M} UTC; create a new one."
        )


@functools.lru_cache(maxsize=4096)
def _thaw(frozen: bytes) -> Caller:
    """Rebuilt once per process for each cached entry: the index's hot path
    then costs a dictionary lookup, not JSON and specifier parsing."""
    from envelope.models import Role

    data = json.loads(frozen)
    expires = datetime.fromisoformat(data["expires"]) if data["expires"] else None
    org_id, org_name, epoch = data["org"]
    restrictions = None
    if data["restrictions"] is not None:
        restrictions = tuple(Restriction(name, SpecifierSet(spec)) for name, spec in data["restrictions"])
    return Caller(
        organization_id=org_id, label=data["label"],
        capabilities=frozenset(Capability(c) for c in data["capabilities"]),
        restrictions=restrictions, user_id=data["user_id"], token_id=data["token_id"],
        organization_name=org_name, role=Role(data["role"]) if data["role"] else None,
        scope=data["scope"], noun=data["noun"], expires=expires, auth_epoch=epoch,
    )
