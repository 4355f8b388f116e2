"""Access tokens: create, verify, list, revoke.

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
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Iterable

from packaging.specifiers import SpecifierSet
from sqlalchemy import select
from sqlalchemy.orm import Session

from packaging.utils import NormalizedName

from envelope.audit import AuditAction, record_event
from envelope.orgs.capabilities import Capability, member_capabilities, token_capabilities
from envelope.orgs.identity import Caller, Restriction, bump_auth_epoch
from envelope.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from envelope.models import AccessToken, Membership, Organization, TokenScope, User
from envelope.models.base import utcnow
from envelope.names import parse_project_restriction
from envelope.orgs.token_prefix import PREFIX

if TYPE_CHECKING:
    from envelope.orgs.membership import OrgAccess  # membership imports this module

_ALPHABET = string.digits + string.ascii_letters
_BODY_LENGTH = 32  # base62 characters: ~190 bits
_CHECKSUM_LENGTH = 6
LAST_USED_PRECISION = timedelta(seconds=60)  # spares a write on every request
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SCOPES = tuple(TokenScope)


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


EXPIRY_PRESETS = ("1d", "7d", "30d", "90d", "never")  # what the web page offers; any parse_expiry text works
NEVER = "never"
MAX_PROJECT_RESTRICTIONS = 100


def parse_expiry(text: str, now: datetime | None = None) -> datetime | None:
    """When a token stops working, from what a person typed, on every face:
    'never' (None), a duration ('30d', '2h', '45m', '1w'), a date (the token
    works through the end of that day, UTC) or an ISO-8601 date/time (UTC
    unless it says otherwise). InvalidInput, saying what is accepted, otherwise."""
    now = now or utcnow()
    text = text.strip()
    if text == NEVER:
        return None
    match = _DURATION.fullmatch(text)
    if match:
        amount, unit = match.groups()
        if int(amount) == 0:
            raise InvalidInput(f"The expiry {text!r} is not in the future.")
        try:
            return now + timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise InvalidInput(f"The expiry {text!r} is too far in the future.") from None
    try:
        if _DATE.fullmatch(text):
            moment = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(), tzinfo=timezone.utc)
        else:
            moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"Invalid expiry {text!r}: use never, a duration such as 30d, 2h, 45m or 1w, a date "
            "(YYYY-MM-DD, through the end of that day) or an ISO-8601 date/time."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment <= now:
        raise InvalidInput(f"The expiry {text!r} is in the past.")
    return moment


def resolve_expiry(preset: str | None, on_date: str | None = None, now: datetime | None = None) -> datetime | None:
    """The web form's two fields: a date, when given, wins over the preset
    (default 30d). Both go through parse_expiry."""
    if on_date and on_date.strip():
        return parse_expiry(on_date, now)
    return parse_expiry(preset or "30d", now)


def parse_restrictions(projects: str | Iterable[str] | None) -> list[tuple[NormalizedName, str]]:
    """'NAME[SPECIFIER]' one per line (or a list; blank entries ignored) ->
    (normalized name, specifier) pairs. InvalidInput for a bad entry, a
    project named twice, or more than MAX_PROJECT_RESTRICTIONS."""
    lines = projects.splitlines() if isinstance(projects, str) else list(projects or [])
    lines = [line.strip() for line in lines if line and line.strip()]
    if len(lines) > MAX_PROJECT_RESTRICTIONS:
        raise InvalidInput(f"A token may name at most {MAX_PROJECT_RESTRICTIONS} projects.")
    restrictions = [parse_project_restriction(text) for text in lines]
    if len({project for project, _ in restrictions}) != len(restrictions):
        raise InvalidInput("Name each project once; combine version ranges with commas.")
    return restrictions


@dataclass(frozen=True)
class IssuedToken:
    token: AccessToken
    secret: str  # shown once, never stored


def create_token(
    session: Session,
    access: OrgAccess,
    *,
    name: str,
    scope: str = TokenScope.read,
    projects: str | Iterable[str] = (),
    expires: datetime | None = None,
    user: User | None = None,
) -> IssuedToken:
    """Create a token in the caller's organization: the one way, for the web
    page, the API and the CLI alike.

    `user` is whose token it is (it never grants more than their role and
    dies when they leave); None makes a deploy token. A member creates their
    own tokens; deploy tokens and tokens for someone else need
    MANAGE_TOKENS (owners, the operator). Access tokens never create tokens.
    A token whose user could never upload is refused upload scope."""
    organization = access.organization
    if access.via_token:
        raise Forbidden("Access tokens cannot create tokens; sign in to the web UI.")
    if user is None:
        access.require(Capability.MANAGE_TOKENS, "create deploy tokens")
    elif access.user is None or user.id != access.user.id:
        access.require(Capability.MANAGE_TOKENS, "create tokens for other members")
    else:
        access.require(Capability.OWN_TOKENS, "create tokens")
    if scope not in SCOPES:
        raise InvalidInput(f"Invalid scope {scope!r}: use one of {', '.join(SCOPES)}.")
    if not name.strip() or len(name) > 100:
        raise InvalidInput("A token name must be 1-100 characters.")
    restrictions = parse_restrictions(projects)
    if user is not None:
        membership = _membership(session, organization.id, user.id)
        if membership is None:
            raise InvalidInput(f"User {user.username!r} is not a member of {organization.name!r}.")
        if scope == TokenScope.upload and Capability.UPLOAD not in member_capabilities(membership.role):
            whose = "Your role" if access.user is not None and user.id == access.user.id else f"{user.username}'s role"
            raise Forbidden(
                f"{whose} in {organization.name} is {membership.role.value}: the token could never "
                "upload. Choose read scope, or ask an owner for the maintainer role."
            )
    issued = issue_token(session, organization.id, name=name.strip(), scope=scope, restrictions=restrictions,
                         expires=expires, user_id=user.id if user else None)
    token = issued.token
    record_event(
        session,
        organization.id,
        access.actor,
        AuditAction.token_create,
        f"token #{token.id} {token.name!r}",
        scope=scope,
        projects=[f"{p}{s}" for p, s in restrictions],
        user=user.username if user else None,
        expires=expires.isoformat() if expires else None,
    )
    return issued


def issue_token(
    session: Session,
    organization_id: int,
    *,
    name: str,
    scope: str,
    restrictions: Iterable[tuple[str, str]] = (),
    expires: datetime | None = None,
    user_id: int | None = None,
    publisher_id: int | None = None,
) -> IssuedToken:
    """The token row and its secret, with no check of who asks: callers
    decide that (create_token for members, trusted publishing for a verified
    CI identity) and record the audit event."""
    secret = generate_secret()
    token = AccessToken(
        organization_id=organization_id,
        user_id=user_id,
        name=name,
        scope=scope,
        restrictions=[{"project": p, "specifier": s} for p, s in restrictions],
        secret_hash=hash_secret(secret),
        hint=secret[len(PREFIX) : len(PREFIX) + 6],
        expires=expires,
        publisher_id=publisher_id,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, secret)


def _membership(session: Session, organization_id: int, user_id: int) -> Membership | None:
    return session.scalar(
        select(Membership).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    )


def find_token(session: Session, secret: str) -> AccessToken:
    """The live token for `secret`; Unauthorized saying why otherwise."""
    token = find_token_row(session, secret)
    if token is None:
        raise Unauthorized("Invalid access token.")
    if token.revoked is not None:
        raise Unauthorized("This access token has been revoked.")
    if token.expires is not None and token.expires <= utcnow():
        raise Unauthorized(
            f"This access token expired on {token.expires:%Y-%m-%d %H:%M} UTC; create a new one."
        )
    return token


def find_token_row(session: Session, secret: str) -> AccessToken | None:
    """The token whose secret is `secret`, live or not; None for an unknown one."""
    if not looks_like_token(secret):
        return None
    digest = hash_secret(secret)
    token = session.scalar(select(AccessToken).where(AccessToken.secret_hash == digest))
    # The index lookup is on the hash, not the secret; compare again in
    # constant time so no code path branches on secret bytes.
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        return None
    return token


def token_caller(session: Session, token: AccessToken, organization_name: str = "", auth_epoch: int = 0) -> Caller:
    """What a live token may do: envelope.orgs.capabilities' table applied to its
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
