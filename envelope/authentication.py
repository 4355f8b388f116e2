"""HTTP Basic credentials -> a Principal inside the organization asked for.

Any error that depends on a private fact (does the organization exist, does
this token belong to it) is NotFound, identical to a missing organization,
so outsiders learn nothing. Only the credentials themselves get Unauthorized.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from packaging.specifiers import SpecifierSet

from envelope.access import Principal, Restriction
from envelope.errors import NotFound, Unauthorized
from envelope.models import Membership, Organization, Role, User
from envelope.models.base import utcnow
from envelope.passwords import verify_password
from envelope.tokens import PREFIX, find_token, needs_last_used_update, token_principal


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    organization: Organization
    # The token's last-used time is stale: the caller should record this use
    # (in a write transaction of its own, off the read path).
    token_use_to_record: int | None = None


def authenticate(session: Session, org_name: str, username: str, password: str) -> Authenticated:
    """Verify credentials for `org_name`; Unauthorized or NotFound otherwise."""
    if password.startswith(PREFIX):
        token = find_token(session, password)
        org = session.get(Organization, token.organization_id)
        if org is None or org.name != org_name:
            raise NotFound("Not Found")
        stale = token.id if needs_last_used_update(token) else None
        return Authenticated(token_principal(session, token), org, stale)
    return _user_principal(session, org_name, username, password)


def _user_principal(session: Session, org_name: str, username: str, password: str) -> Authenticated:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("Invalid username, password or token.")
    if user.totp_enabled:
        # A password alone must not get around two-factor sign-in.
        raise Unauthorized("This account uses two-factor authentication: use an access token.")
    row = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Organization.name == org_name, Membership.user_id == user.id)
    ).first()
    if row is None:
        raise NotFound("Not Found")
    org, role = row
    return Authenticated(
        Principal(
            organization_id=org.id,
            label=f"user {user.username}",
            can_upload=role.rank >= Role.maintainer.rank,
            can_manage=role is Role.owner,
            user_id=user.id,
        ),
        org,
    )


AUTH_CACHE_PREFIX = "auth:v1:"


def authenticate_cached(
    db, cache, secret_key: str, ttl: float, org_name: str, username: str, password: str
) -> Authenticated:
    """authenticate(), remembered for `ttl` seconds (ENVELOPE_AUTH_CACHE_SECONDS).

    A revoked token, a removed member or a changed password is honoured at
    most `ttl` seconds late; an expired token is refused exactly on time,
    since the expiry is checked on every request. The cache key is an HMAC
    under the server's secret, so a cache dump reveals no credential. Only
    successes are cached: every failure goes to the database (and argon2)."""
    key = AUTH_CACHE_PREFIX + hmac.new(
        secret_key.encode(), f"{org_name}\0{username}\0{password}".encode(), hashlib.sha256
    ).hexdigest()
    cached = cache.get(key) if ttl > 0 else None
    if cached is not None:
        auth = _thaw(cached)
        _refuse_if_expired(auth.principal.expires)
        return auth
    with db.read() as session:
        auth = authenticate(session, org_name, username, password)
    if ttl > 0:
        cache.set(key, json.dumps(_freeze(auth)).encode(), ttl)
    return auth


def _freeze(auth: Authenticated) -> dict:
    p = auth.principal
    return {
        "org": [auth.organization.id, auth.organization.name, auth.organization.serial],
        "label": p.label, "can_upload": p.can_upload, "can_manage": p.can_manage,
        "user_id": p.user_id, "token_id": p.token_id, "noun": p.noun,
        "expires": p.expires.isoformat() if p.expires else None,
        "restrictions": None if p.restrictions is None else [[r.project, str(r.specifier)] for r in p.restrictions],
    }


def _refuse_if_expired(expires: datetime | None) -> None:
    if expires is not None and expires <= utcnow():
        raise Unauthorized(
            f"This access token expired on {expires:%Y-%m-%d %H:%M} UTC; create a new one."
        )


@functools.lru_cache(maxsize=4096)
def _thaw(frozen: bytes) -> Authenticated:
    """Rebuilt once per process for each cached entry: the index's hot path
    then costs a dictionary lookup, not JSON and specifier parsing."""
    data = json.loads(frozen)
    expires = datetime.fromisoformat(data["expires"]) if data["expires"] else None
    org_id, org_name, serial = data["org"]
    restrictions = None
    if data["restrictions"] is not None:
        restrictions = tuple(Restriction(name, SpecifierSet(spec)) for name, spec in data["restrictions"])
    principal = Principal(
        organization_id=org_id, label=data["label"], can_upload=data["can_upload"],
        restrictions=restrictions, user_id=data["user_id"], token_id=data["token_id"],
        can_manage=data["can_manage"], noun=data["noun"], expires=expires,
    )
    return Authenticated(principal, Organization(id=org_id, name=org_name, serial=serial))
