"""Access tokens: issue, verify, list, revoke.

A token reads `envl_` + 32 random base62 characters + a 6-character CRC32
checksum, so secret scanners can recognise one and typos are rejected
without a database lookup. Only its SHA-256 is stored.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from packaging.specifiers import SpecifierSet
from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.access import READ, SCOPES, UPLOAD
from envelope.audit import AuditAction, record_event
from envelope.capabilities import token_capabilities
from envelope.identity import Caller, Restriction, bump_auth_epoch
from envelope.errors import InvalidInput, NotFound, Unauthorized
from envelope.models import AccessToken, Membership, Organization, Role, User
from envelope.models.base import utcnow
from envelope.names import parse_project_restriction

PREFIX = "envl_"
_ALPHABET = string.digits + string.ascii_letters
_BODY_LENGTH = 32  # base62 characters: ~190 bits
_CHECKSUM_LENGTH = 6
LAST_USED_PRECISION = timedelta(seconds=60)  # spares a write on every request
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LENGTH)


def generate_secret() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    return PREFIX + body + _checksum(body)


def looks_like_token(secret: str) -> bool:
    """Shape and checksum only: cheap, and true for every token we issued."""
    body = secret[len(PREFIX) : -_CHECKSUM_LENGTH]
    return (
        secret.startswith(PREFIX)
        and len(secret) == len(PREFIX) + _BODY_LENGTH + _CHECKSUM_LENGTH
        and all(c in _ALPHABET for c in secret[len(PREFIX) :])
        and hmac.compare_digest(secret[-_CHECKSUM_LENGTH:], _checksum(body))
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """'30d', '2h', '45m', '1w', or an ISO-8601 date/time (UTC unless it says otherwise)."""
    now = now or utcnow()
    match = _DURATION.fullmatch(text.strip())
    if match:
        amount, unit = match.groups()
        if int(amount) == 0:
            raise InvalidInput(f"Expiry {text!r} is not in the future.")
        try:
            return now + timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise InvalidInput(f"Expiry {text!r} is too far in the future.") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Invalid expiry {text!r}: use a duration such as 30d, 2h, 45m, 1w or an "
            "ISO-8601 date/time."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment <= now:
        raise InvalidInput(f"Expiry {text!r} is in the past.")
    return moment


@dataclass(frozen=True)
class IssuedToken:
    token: AccessToken
    secret: str  # shown once, never stored


def issue_token(
    session: Session,
    organization: Organization,
    *,
    name: str,
    scope: str = READ,
    projects: list[str] | tuple[str, ...] = (),
    expires: datetime | None = None,
    user: User | None = None,
    actor: str,
) -> IssuedToken:
    """Create a token; InvalidInput for a bad scope, restriction or user."""
    if scope not in SCOPES:
        raise InvalidInput(f"Invalid scope {scope!r}: use one of {', '.join(SCOPES)}.")
    if not name.strip() or len(name) > 100:
        raise InvalidInput("A token name must be 1-100 characters.")
    restrictions = [parse_project_restriction(text) for text in projects]
    if len({project for project, _ in restrictions}) != len(restrictions):
        raise InvalidInput("Name each project once; combine version ranges with commas.")
    if user is not None and _membership(session, organization.id, user.id) is None:
        raise InvalidInput(f"User {user.username!r} is not a member of {organization.name!r}.")
    secret = generate_secret()
    token = AccessToken(
        organization_id=organization.id,
        user_id=user.id if user else None,
        name=name.strip(),
        scope=scope,
        restrictions=[{"project": p, "specifier": s} for p, s in restrictions],
        secret_hash=hash_secret(secret),
        hint=secret[len(PREFIX) : len(PREFIX) + 6],
        expires=expires,
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        organization.id,
        actor,
        AuditAction.token_create,
        f"token #{token.id} {token.name!r}",
        scope=scope,
        projects=list(projects),
        expires=expires.isoformat() if expires else None,
    )
    return IssuedToken(token, secret)


def _membership(session: Session, organization_id: int, user_id: int) -> Membership | None:
    return session.scalar(
        select(Membership).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    )


def find_token(session: Session, secret: str) -> AccessToken:
    """The live token for `secret`; Unauthorized saying why otherwise."""
    if not looks_like_token(secret):
        raise Unauthorized("Invalid access token.")
    digest = hash_secret(secret)
    token = session.scalar(select(AccessToken).where(AccessToken.secret_hash == digest))
    # The index lookup is on the hash, not the secret; compare again in
    # constant time so no code path branches on secret bytes.
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        raise Unauthorized("Invalid access token.")
    if token.revoked is not None:
        raise Unauthorized("This access token has been revoked.")
    if token.expires is not None and token.expires <= utcnow():
        raise Unauthorized(
            f"This access token expired on {token.expires:%Y-%m-%d %H:%M} UTC; create a new one."
        )
    return token


def token_caller(session: Session, token: AccessToken, organization_name: str = "", auth_epoch: int = 0) -> Caller:
    """What a live token may do: envelope.capabilities' table applied to its
    scope, its user's current role (none for a deploy token) and its restrictions."""
    role = None
    if token.user_id is not None:
        membership = _membership(session, token.organization_id, token.user_id)
        if membership is None or not membership.user.is_active:
            raise Unauthorized("This token's user is no longer a member of the organization.")
        role = membership.role
    restrictions = None
    if token.restrictions:
        restrictions = tuple(
            Restriction(r["project"], SpecifierSet(r["specifier"])) for r in token.restrictions
        )
    return Caller(
        organization_id=token.organization_id,
        label=f"token {token.name!r} (#{token.id})",
        capabilities=token_capabilities(token.scope, role, restricted=restrictions is not None),
        restrictions=restrictions,
        user_id=token.user_id,
        token_id=token.id,
        organization_name=organization_name,
        role=role,
        scope=token.scope,
        expires=token.expires,
        auth_epoch=auth_epoch,
    )


token_principal = token_caller  # the old name


def token_organization(session: Session, secret: str) -> str:
    """The name of a live token's own organization; Unauthorized otherwise."""
    token = find_token(session, secret)
    organization = session.get(Organization, token.organization_id)
    assert organization is not None  # the foreign key cascades
    return organization.name


def needs_last_used_update(token: AccessToken) -> bool:
    return token.last_used is None or utcnow() - token.last_used > LAST_USED_PRECISION


def mark_used(session: Session, token_id: int) -> None:
    token = session.get(AccessToken, token_id)
    if token is not None:
        token.last_used = utcnow()


def list_tokens(session: Session, organization: Organization) -> list[AccessToken]:
    return list(
        session.scalars(
            select(AccessToken)
            .where(AccessToken.organization_id == organization.id)
            .order_by(AccessToken.id)
        )
    )


def revoke_token(session: Session, token_id: int, *, actor: str) -> AccessToken:
    token = session.get(AccessToken, token_id)
    if token is None:
        raise NotFound(f"No token with id {token_id}; `envelope token list` shows the ids.")
    if token.revoked is None:
        token.revoked = utcnow()
        bump_auth_epoch(session, token.organization_id)
        record_event(
            session, token.organization_id, actor, AuditAction.token_revoke, f"token #{token.id} {token.name!r}"
        )
    return token
