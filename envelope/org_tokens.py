"""Access tokens as members manage them (web UI and JSON API).

Members create tokens bound to themselves, so a token never grants more than
its user's role and dies when they leave. Owners may also create deploy
tokens (no user) and see and revoke everyone's; others see and revoke their own.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from envelope.access import SCOPES, UPLOAD
from envelope.capabilities import Capability
from envelope.errors import Forbidden, InvalidInput, NotFound
from envelope.membership import OrgAccess
from envelope.models import AccessToken, Membership, Role
from envelope.models.base import utcnow
from envelope.tokens import IssuedToken, issue_token, parse_expiry, revoke_token

EXPIRY_PRESETS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30),
                  "90d": timedelta(days=90), "never": None}
MAX_PROJECT_RESTRICTIONS = 100
MAX_ROW_ID = 2**63 - 1  # larger ids cannot exist, and would overflow the query


def resolve_expiry(preset: str | None, on_date: str | None = None, now: datetime | None = None) -> datetime | None:
    """A preset (1d, 7d, 30d, 90d, never) or, when given, a date: the token
    then works through the end of that day (UTC). InvalidInput otherwise."""
    now = now or utcnow()
    if on_date and on_date.strip():
        try:
            day = date.fromisoformat(on_date.strip())
        except ValueError:
            raise InvalidInput(f"Invalid expiry date {on_date!r}: use YYYY-MM-DD.") from None
        moment = datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc)
        if moment <= now:
            raise InvalidInput(f"The expiry date {on_date} is in the past.")
        return moment
    preset = (preset or "30d").strip()
    if preset in EXPIRY_PRESETS:
        delta = EXPIRY_PRESETS[preset]
        return None if delta is None else now + delta
    return parse_expiry(preset, now)


def parse_restrictions(text: str | list[str] | None) -> list[str]:
    """'NAME[SPECIFIER]' one per line (or a list) -> the non-empty lines; each
    is validated when the token is issued."""
    lines = text.splitlines() if isinstance(text, str) else list(text or [])
    lines = [line.strip() for line in lines if line and line.strip()]
    if len(lines) > MAX_PROJECT_RESTRICTIONS:
        raise InvalidInput(f"A token may name at most {MAX_PROJECT_RESTRICTIONS} projects.")
    return lines


def create_token(
    session: Session,
    access: OrgAccess,
    *,
    name: str,
    scope: str,
    projects: list[str],
    expires: datetime | None,
    deploy: bool = False,
) -> IssuedToken:
    """Issue a token for the signed-in member (or, for owners, a deploy token).

    Forbidden for a reader asking for upload scope (the token could never
    upload) and for a non-owner asking for a deploy token."""
    if access.via_token or access.user is None:
        raise Forbidden("Access tokens cannot create tokens; sign in to the web UI.")
    if scope not in SCOPES:
        raise InvalidInput(f"Invalid scope {scope!r}: use one of {', '.join(SCOPES)}.")
    if deploy:
        access.require(Capability.MANAGE_TOKENS, "create deploy tokens")
    if scope == UPLOAD and not access.allows(Capability.UPLOAD):
        raise Forbidden(
            f"Your role in {access.organization.name} is {access.role.value}: a token of yours "
            "could never upload. Choose read scope, or ask an owner for the maintainer role."
        )
    return issue_token(
        session,
        access.organization,
        name=name,
        scope=scope,
        projects=projects,
        expires=expires,
        user=None if deploy else access.user,
        actor=access.actor,
    )


def visible_tokens(session: Session, access: OrgAccess) -> list[AccessToken]:
    """Owners see every token of the organization; other members their own."""
    if access.via_token or access.user is None:
        raise Forbidden("Access tokens cannot list tokens; sign in to the web UI.")
    query = (
        select(AccessToken)
        .where(AccessToken.organization_id == access.organization.id)
        .options(selectinload(AccessToken.user))
        .order_by(AccessToken.id.desc())
    )
    if not access.allows(Capability.MANAGE_TOKENS):
        query = query.where(AccessToken.user_id == access.user.id)
    return list(session.scalars(query))


def member_user_ids(session: Session, access: OrgAccess) -> set[int]:
    return member_ids(session, access.organization.id)


def member_ids(session: Session, organization_id: int) -> set[int]:
    return set(session.scalars(select(Membership.user_id).where(Membership.organization_id == organization_id)))


def token_status(token: AccessToken, members: set[int], now: datetime | None = None) -> str:
    """active | revoked | expired | orphaned (its user left the organization)."""
    now = now or utcnow()
    if token.revoked is not None:
        return "revoked"
    if token.expires is not None and token.expires <= now:
        return "expired"
    if token.user_id is not None and token.user_id not in members:
        return "orphaned"
    return "active"


def token_record(token: AccessToken, status: str) -> dict:
    """A token as the API and `envelope token list --json` both show it: one
    serialiser, so the two faces cannot drift (never the secret, which is
    not stored)."""
    return {
        "id": token.id,
        "name": token.name,
        "scope": token.scope,
        "projects": [f"{r['project']}{r['specifier']}" for r in token.restrictions or []],
        "user": token.user.username if token.user else None,
        "hint": f"envl_{token.hint}",
        "created": token.created.isoformat() if token.created else None,
        "expires": token.expires.isoformat() if token.expires else None,
        "last_used": token.last_used.isoformat() if token.last_used else None,
        "revoked": token.revoked.isoformat() if token.revoked else None,
        "status": status,
    }


def revoke_member_token(session: Session, access: OrgAccess, token_id: int) -> AccessToken:
    """Revoke a token of this organization: one's own, or any as an owner."""
    if access.via_token or access.user is None:
        raise Forbidden("Access tokens cannot revoke tokens; sign in to the web UI.")
    token = session.get(AccessToken, token_id) if 0 < token_id <= MAX_ROW_ID else None
    if token is None or token.organization_id != access.organization.id:
        raise NotFound(f"No token #{token_id} in {access.organization.name}.")
    if token.user_id != access.user.id:
        access.require(Capability.MANAGE_TOKENS, "revoke other people's tokens")
    return revoke_token(session, token.id, actor=access.actor)
