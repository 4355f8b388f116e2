"""Sign-up that confirms no one's address to strangers.

Outside two cases the account is created only when the emailed link is
followed. Until then the form's answer is the same whether or not the
address is registered: a new address gets a confirmation link, a registered
one a notice ("you already have an account"), and the password is hashed
either way so timing tells nothing. Usernames, being public names shown to
teams, are checked on the spot.

Created at once: the first account of an instance (there is nobody to
enumerate, and a laptop install may have no mail server), and an invitee
signing up with the very address the invitation went to (the invitation
link already proved it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from envelope.accounts.users import (
    EMAIL,
    USERNAME,
    InvalidField,
    SignupClosed,
    TakenField,
    create_account,
    has_accounts,
    register_user,
    signup_open,
    validate_new_password,
)
from envelope.models import PendingSignup, User
from envelope.models.base import utcnow
from envelope.accounts.one_time_tokens import InvalidLink, new_token, token_digest
from envelope.accounts.passwords import hash_password

SIGNUP_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class SignupOutcome:
    user: User | None  # set when the account exists now: sign the browser in
    # Otherwise exactly one email to send: a confirmation link for a new
    # address, or a notice to the owner of a registered one.
    confirm_token: str | None = None
    notify_registered: bool = False


def request_signup(
    session: Session,
    username: str,
    *,
    email: str,
    password: str,
    signup_default: bool,
    invited_email: str | None = None,
    next_path: str | None = None,
) -> SignupOutcome:
    """SignupClosed, InvalidField (format), TakenField (username only)."""
    if invited_email is None and not signup_open(session, signup_default):
        raise SignupClosed("Sign-up is closed on this instance: ask an administrator for an invitation.")
    email = email.strip()
    _check_format(username, email, password)
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise TakenField("username", f"The username {username!r} is already registered; choose another.")
    email_taken = session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None
    first = not has_accounts(session)
    invited_here = invited_email is not None and invited_email.lower() == email.lower()
    if (first or invited_here) and not email_taken:
        user = register_user(session, username, email=email, password=password,
                             signup_default=signup_default, invited_email=invited_email)
        return SignupOutcome(user)
    password_hash = hash_password(password)  # paid in both branches below
    token, digest = new_token()
    if email_taken:
        return SignupOutcome(None, notify_registered=True)
    session.add(
        PendingSignup(
            token_hash=digest, username=username, email=email, password_hash=password_hash,
            next_path=next_path, expires=utcnow() + SIGNUP_LIFETIME,
        )
    )
    return SignupOutcome(None, confirm_token=token)


def _check_format(username: str, email: str, password: str) -> None:
    if not USERNAME.fullmatch(username):
        raise InvalidField("username", f"Invalid username {username!r}: use 1-64 letters, digits, '.', '_' or '-'.")
    if not EMAIL.fullmatch(email):
        raise InvalidField("email", f"Invalid email address {email!r}.")
    validate_new_password(password)


def confirm_signup(session: Session, token: str) -> tuple[User, str | None]:
    """Create the account of a pending sign-up; (user, next path). The link
    works once; InvalidLink when unknown, used or expired, or when the name
    or address was taken in the meantime."""
    pending = session.scalar(select(PendingSignup).where(PendingSignup.token_hash == token_digest(token or "")))
    if pending is None:
        raise InvalidLink("This sign-up link is not valid or was already used; sign up again.")
    session.execute(delete(PendingSignup).where(PendingSignup.id == pending.id))
    if pending.expires <= utcnow():
        raise InvalidLink("This sign-up link has expired; sign up again.")
    try:
        user = create_account(session, pending.username, email=pending.email, actor="signup")
    except TakenField as exc:
        raise InvalidLink(f"{exc} Sign up again.") from None
    user.password_hash = pending.password_hash
    user.email_verified = utcnow()
    return user, pending.next_path
