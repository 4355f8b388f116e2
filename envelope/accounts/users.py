"""Users: accounts, sign-up, sign-in, passwords and the instance's administrators."""
from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.orgs.identity import bump_user_epochs
from envelope.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from envelope.models import InstanceSetting, User
from envelope.models.base import utcnow
from envelope.accounts.one_time_tokens import (
    RESET_PASSWORD,
    VERIFY_EMAIL,
    InvalidLink,
    check_token,
    consume_token,
    issue_token,
    new_token,
    revoke_tokens,
    store_token,
)
from envelope.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from envelope.accounts.sessions import revoke_all_sessions, revoke_session

USERNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_PASSWORD_LENGTH = 1024  # characters: longer is no stronger, only slower to hash
SIGNUP_SETTING = "signup"  # InstanceSetting key: "open" or "closed"
# The one answer to every failed sign-in, so it never tells which part was wrong.
LOGIN_FAILED = "Incorrect username, email or password."


class _FieldError(Exception):
    """An error about one input, named by `field` so a form can show it there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidField(_FieldError, InvalidInput):
    pass


class TakenField(_FieldError, Conflict):
    pass


class WrongPassword(InvalidInput):
    """The password given to confirm a change is not the account's."""


class SignupClosed(Forbidden):
    pass


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def create_user(
    session: Session,
    username: str,
    *,
    email: str,
    password: str | None = None,
    is_admin: bool = False,
    actor: str,
) -> User:
    if not USERNAME.fullmatch(username):
        raise InvalidField(
            "username", f"Invalid username {username!r}: use 1-64 letters, digits, '.', '_' or '-'."
        )
    if not EMAIL.fullmatch(email):
        raise InvalidField("email", f"Invalid email address {email!r}.")
    if password is not None:
        validate_new_password(password)
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise TakenField("username", f"The username {username!r} is already registered; choose another.")
    if session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None:
        raise TakenField("email", "That email address is already registered; sign in or reset your password.")
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    record_event(session, None, actor, AuditAction.user_create, username, admin=is_admin or None)
    return user


FIRST_ACCOUNT_LOCK = 0x656E76_01  # "env" 1: any constant no other lock uses


def create_account(
    session: Session,
    username: str,
    *,
    email: str,
    password: str | None = None,
    is_admin: bool = False,
    actor: str,
    claim_ownerless: bool = True,
) -> User:
    """create_user for a person joining the instance, by `envelope user
    create` or the sign-up page: the first account an instance gets is its
    administrator, whichever way it came, so a fresh install always has
    someone who can open or close sign-up. The first account also becomes
    the owner of every organization made before it (`envelope org create`
    without --owner on a fresh install), so the quick start's CLI and its
    first browser sign-up meet in the same organization; a caller that gives
    the account roles of its own passes claim_ownerless=False and calls
    claim_ownerless_organizations once they are set.

    Two sign-ups on a fresh instance must not both find it empty: on
    PostgreSQL a transaction-scoped advisory lock makes the second wait for
    the first's commit (SQLite's write transactions are serialized whole)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRST_ACCOUNT_LOCK})
    first = not has_accounts(session)
    user = create_user(session, username, email=email, password=password, is_admin=is_admin or first, actor=actor)
    if first and claim_ownerless:
        claim_ownerless_organizations(session, user)
    return user


def claim_ownerless_organizations(session: Session, user: User, *, skip: Collection[str] = ()) -> None:
    """`user` (an administrator) owns every organization nobody owns, but those named in `skip`."""
    # Imported here: organizations imports this module (user_label).
    from envelope.orgs.organizations import claim_organization, ownerless_organizations

    for org in ownerless_organizations(session):
        if org.name not in skip:
            claim_organization(session, org.name, user)


def has_accounts(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def set_admin(session: Session, user: User, is_admin: bool, *, actor: str) -> User:
    """Grant or remove instance administration. Conflict when removing the
    last active administrator: nobody could then change instance settings."""
    if user.is_admin and not is_admin:
        others = session.scalar(
            select(func.count()).select_from(User)
            .where(User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id)
        )
        if not others:
            raise Conflict(
                f"{user.username} is the only administrator of this instance: make another user an "
                "administrator first (`envelope user set-admin USERNAME`)."
            )
    if user.is_admin != is_admin:
        user.is_admin = is_admin
        record_event(session, None, actor, AuditAction.user_admin, user.username, admin=is_admin)
    return user


def set_active(session: Session, user: User, active: bool, *, actor: str) -> User:
    """Disable an account (or enable it again). A disabled user is refused on
    the very next request everywhere: their browser sessions are revoked, and
    the auth epoch of each of their organizations moves on, so every web
    process re-verifies cached Basic-auth credentials and user-bound tokens
    (which then fail on `is_active`). Conflict when disabling the last active
    administrator, as in set_admin."""
    if user.is_active and not active and user.is_admin:
        others = session.scalar(
            select(func.count()).select_from(User)
            .where(User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id)
        )
        if not others:
            raise Conflict(
                f"{user.username} is the only active administrator of this instance: make another user an "
                "administrator first (`envelope user set-admin USERNAME`)."
            )
    if user.is_active == active:
        return user
    user.is_active = active
    if not active:
        revoke_all_sessions(session, user)
        bump_user_epochs(session, user.id)
    record_event(session, None, actor, AuditAction.user_enable if active else AuditAction.user_disable, user.username)
    return user


def user_label(user: User) -> str:
    return f"user {user.username}"


def validate_new_password(password: str) -> None:
    """InvalidInput unless `password` is acceptable as a new password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidField("password", f"Passwords may be at most {MAX_PASSWORD_LENGTH} characters.")


def require_password(user: User, password: str) -> None:
    """WrongPassword unless `password` is the user's current one."""
    if not verify_password(user.password_hash, password):
        raise WrongPassword("Your current password is incorrect.")


def signup_open(session: Session, default: bool) -> bool:
    """Whether anyone may create an account: the admin's choice, else `default` (ENVELOPE_SIGNUP)."""
    value = session.get(InstanceSetting, SIGNUP_SETTING)
    return default if value is None else value.value == "open"


def set_signup_open(session: Session, is_open: bool, *, actor: str) -> None:
    value = "open" if is_open else "closed"
    row = session.get(InstanceSetting, SIGNUP_SETTING)
    if row is None:
        session.add(InstanceSetting(key=SIGNUP_SETTING, value=value))
    else:
        row.value = value
    record_event(session, None, actor, AuditAction.instance_signup, value)


def register_user(
    session: Session,
    username: str,
    *,
    email: str,
    password: str,
    signup_default: bool,
    invited_email: str | None = None,
) -> User:
    """Sign-up. Allowed while sign-up is open, or for the holder of a live
    invitation (`invited_email` is its address; the same address counts as
    verified). The first user of an instance becomes its admin (create_account).
    SignupClosed, InvalidInput or Conflict otherwise."""
    if invited_email is None and not signup_open(session, signup_default):
        raise SignupClosed("Sign-up is closed on this instance: ask an administrator for an invitation.")
    user = create_account(session, username, email=email.strip(), password=password, actor="signup")
    if invited_email is not None and invited_email.lower() == user.email.lower():
        user.email_verified = utcnow()
    return user


def find_user_for_login(session: Session, login: str) -> User | None:
    """The user whose username or email address is `login`, in any case."""
    login = login.strip().lower()
    if not login:
        return None
    return session.scalar(
        select(User).where((func.lower(User.username) == login) | (func.lower(User.email) == login))
    )


def authenticate_password(session: Session, login: str, password: str) -> User:
    """The active user `login` (username or email) and `password` name;
    Unauthorized(LOGIN_FAILED) otherwise. An unknown user costs the same
    password hash as a known one, so timing does not reveal which it was."""
    user = find_user_for_login(session, login)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise Unauthorized(LOGIN_FAILED)
    return user


def change_password(
    session: Session, user: User, current: str, new: str, *, keep_session_id: str | None
) -> int:
    """Set a new password after checking the current one; every other session
    is signed out and outstanding reset links stop working. Returns the
    number of sessions signed out. WrongPassword or InvalidInput otherwise."""
    require_password(user, current)
    validate_new_password(new)
    user.password_hash = hash_password(new)
    bump_user_epochs(session, user.id)  # the old password stops working on the index at once
    revoke_tokens(session, user, RESET_PASSWORD)
    revoked = revoke_all_sessions(session, user, except_id=keep_session_id)
    record_event(
        session, None, user_label(user), AuditAction.user_password_change, user.username, sessions_revoked=revoked
    )
    return revoked


def request_password_reset(session: Session, email: str) -> tuple[User, str] | None:
    """A reset token for the active account with this address, or None.

    The token is made and hashed either way, so the work done (and the time
    taken) does not depend on whether the address is registered; the caller
    must answer identically in both cases."""
    token, digest = new_token()
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active:
        return None
    store_token(session, user, RESET_PASSWORD, digest)
    return user, token


def check_reset_token(session: Session, token: str) -> User:
    """The user a reset link is for, without using the link up; InvalidLink otherwise."""
    row = check_token(session, token, RESET_PASSWORD)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidLink("This link is not valid: its account is disabled.")
    return user


def reset_password(session: Session, token: str, new: str) -> User:
    """Use a reset link: set the password, sign out every session, invalidate
    the other reset links. The link works once (InvalidLink afterwards)."""
    check_token(session, token, RESET_PASSWORD)
    validate_new_password(new)
    user = consume_token(session, token, RESET_PASSWORD)
    user.password_hash = hash_password(new)
    bump_user_epochs(session, user.id)
    # Following the emailed link proved the address works.
    user.email_verified = user.email_verified or utcnow()
    revoke_tokens(session, user, RESET_PASSWORD)
    revoked = revoke_all_sessions(session, user)
    record_event(
        session, None, user_label(user), AuditAction.user_password_reset, user.username, sessions_revoked=revoked
    )
    return user


def start_email_verification(session: Session, user: User) -> str:
    """A verification token for the user's address; Conflict if already verified."""
    if user.email_verified is not None:
        raise Conflict("Your email address is already verified.")
    return issue_token(session, user, VERIFY_EMAIL)


def verify_email(session: Session, token: str) -> User:
    """Use a verification link: the user's address counts as verified. InvalidLink otherwise."""
    user = consume_token(session, token, VERIFY_EMAIL)
    if user.email_verified is None:
        user.email_verified = utcnow()
        record_event(session, None, user_label(user), AuditAction.user_email_verify, user.username, email=user.email)
    return user


def sign_out_session(session: Session, user: User, session_id: str) -> None:
    """Revoke one of the user's sessions (that browser is signed out at its next request)."""
    revoke_session(session, user, session_id)
    record_event(session, None, user_label(user), AuditAction.user_session_revoke, user.username)


def sign_out_other_sessions(session: Session, user: User, *, keep_session_id: str | None) -> int:
    revoked = revoke_all_sessions(session, user, except_id=keep_session_id)
    record_event(
        session, None, user_label(user), AuditAction.user_session_revoke_all, user.username, sessions_revoked=revoked
    )
    return revoked

