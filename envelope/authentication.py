"""HTTP Basic credentials -> a Principal inside the organization asked for.

Any error that depends on a private fact (does the organization exist, does
this token belong to it) is NotFound, identical to a missing organization,
so outsiders learn nothing. Only the credentials themselves get Unauthorized.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.access import Principal
from envelope.errors import NotFound, Unauthorized
from envelope.models import Membership, Organization, Role, User
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
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("Invalid username, password or token.")
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
