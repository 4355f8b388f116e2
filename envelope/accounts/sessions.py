"""Browser sessions as rows: listable, revocable, expiring.

The cookie holds a random secret; the row is keyed by its SHA-256, so a
database copy cannot be replayed as a cookie."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.errors import NotFound
from envelope.models import User, UserSession
from envelope.models.base import utcnow

SESSION_LIFETIME = timedelta(hours=12)
REMEMBER_LIFETIME = timedelta(days=30)
LAST_SEEN_PRECISION = timedelta(minutes=1)


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(
    session: Session, user: User, *, remember: bool, user_agent: str | None, ip_address: str | None
) -> str:
    """Create a session; returns the cookie secret (never stored)."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            id=_key(secret),
            user_id=user.id,
            created=now,
            last_seen=now,
            expires=now + (REMEMBER_LIFETIME if remember else SESSION_LIFETIME),
            remember=remember,
            user_agent=(user_agent or "")[:300] or None,
            ip_address=ip_address,
        )
    )
    return secret


def live_session(session: Session, secret: str) -> UserSession | None:
    """The live session for a cookie secret, or None (unknown, revoked, expired, user disabled)."""
    row = session.get(UserSession, _key(secret))
    if row is None or row.revoked is not None or row.expires <= utcnow() or not row.user.is_active:
        return None
    return row


def needs_touch(row: UserSession) -> bool:
    return utcnow() - row.last_seen > LAST_SEEN_PRECISION


def touch_session(session: Session, session_id: str) -> None:
    row = session.get(UserSession, session_id)
    if row is not None:
        row.last_seen = utcnow()


def user_sessions(session: Session, user: User) -> list[UserSession]:
    return list(
        session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked.is_(None),
                   UserSession.expires > utcnow())
            .order_by(UserSession.last_seen.desc())
        )
    )


def revoke_session(session: Session, user: User, session_id: str) -> None:
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such session.")
    row.revoked = utcnow()


def revoke_all_sessions(session: Session, user: User, *, except_id: str | None = None) -> int:
    """After a password change or reset: every other browser is signed out."""
    count = 0
    for row in user_sessions(session, user):
        if row.id != except_id:
            row.revoked = utcnow()
            count += 1
    return count


def session_id_for(secret: str) -> str:
    return _key(secret)
