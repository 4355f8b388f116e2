"""Access tokens as members see and revoke them (web UI and JSON API); the
statuses and the record `envelope token list` shows too. Creating a token
is envelope.orgs.tokens.create_token, for every face.

Owners see and revoke everyone's tokens; others see and revoke their own.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from envelope.orgs.capabilities import Capability
from envelope.errors import Forbidden, InvalidInput, NotFound
from envelope.orgs.membership import OrgAccess
from envelope.models import AccessToken, Membership
from envelope.models.base import utcnow
from envelope.orgs.tokens import revoke_token

MAX_ROW_ID = 2**63 - 1  # larger ids cannot exist, and would overflow the query


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


def calling_token(session: Session, access: OrgAccess) -> AccessToken:
    """The token `access` came with; InvalidInput for a browser session."""
    if not access.via_token or access.token_id is None:
        raise InvalidInput("This describes the access token sending the request: send one "
                           "(Authorization: Bearer envl_…).")
    return session.get(AccessToken, access.token_id)


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
