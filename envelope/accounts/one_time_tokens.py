"""Links sent by email (password reset, email verification): a random secret
in the link, only its SHA-256 in the database; each expires and works once."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from envelope.errors import InvalidInput
from envelope.models import OneTimeToken, User
from envelope.models.base import utcnow

RESET_PASSWORD = "reset_password"
VERIFY_EMAIL = "verify_email"
LIFETIMES = {
    RESET_PASSWORD: timedelta(hours=1),
    VERIFY_EMAIL: timedelta(days=3),
}
MAX_TOKEN_LENGTH = 100  # characters: anything longer is not one of ours


class InvalidLink(InvalidInput):
    """The link is unknown, expired or already used; the message says which."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh (token, digest) pair. Callers that must not reveal whether they
    store it (password reset for unknown addresses) still pay for making it."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def store_token(session: Session, user: User, purpose: str, digest: str) -> None:
    now = utcnow()
    session.add(
        OneTimeToken(
            user_id=user.id, purpose=purpose, token_hash=digest, created=now, expires=now + LIFETIMES[purpose]
        )
    )


def issue_token(session: Session, user: User, purpose: str) -> str:
    """Store a new token for `user` and return it (the only time it exists in clear)."""
    token, digest = new_token()
    store_token(session, user, purpose, digest)
    return token


def check_token(session: Session, token: str, purpose: str) -> OneTimeToken:
    """The live token row, without using it up; InvalidLink saying why otherwise."""
    row = None
    if token and len(token) <= MAX_TOKEN_LENGTH:
        row = session.scalar(
            select(OneTimeToken).where(
                OneTimeToken.token_hash == token_digest(token), OneTimeToken.purpose == purpose
            )
        )
    if row is None:
        raise InvalidLink("This link is not valid: check that you copied all of it, or ask for a new one.")
    if row.used is not None:
        raise InvalidLink("This link has already been used; it works only once. Ask for a new one.")
    if row.expires <= utcnow():
        raise InvalidLink("This link has expired. Ask for a new one.")
    return row


def consume_token(session: Session, token: str, purpose: str) -> User:
    """Use the token up and return its user; works exactly once, even when two
    requests race (a conditional update claims it). InvalidLink otherwise."""
    row = check_token(session, token, purpose)
    claimed = session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == row.id, OneTimeToken.used.is_(None))
        .values(used=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvalidLink("This link has already been used; it works only once. Ask for a new one.")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidLink("This link is not valid: its account is disabled.")
    return user


def revoke_tokens(session: Session, user: User, purpose: str) -> None:
    """Use up every outstanding token of `purpose`: after a reset, older reset links stop working."""
    session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.user_id == user.id, OneTimeToken.purpose == purpose, OneTimeToken.used.is_(None))
        .values(used=utcnow())
        .execution_options(synchronize_session=False)
    )
