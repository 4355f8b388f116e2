"""Organizations, users and memberships."""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.audit import record_event
from envelope.errors import Conflict, InvalidInput, NotFound
from envelope.models import Membership, Organization, Role, User
from envelope.names import validate_org_name
from envelope.passwords import MIN_PASSWORD_LENGTH, hash_password

USERNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def get_organization(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"No organization named {name!r}; `envelope org create {name}` makes one.")
    return org


def create_organization(session: Session, name: str, *, actor: str) -> Organization:
    validate_org_name(name)
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise Conflict(f"Organization {name!r} already exists.")
    org = Organization(name=name)
    session.add(org)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"Organization {name!r} already exists.") from None
    record_event(session, org.id, actor, "org.create", name)
    return org


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
        raise InvalidInput(
            f"Invalid username {username!r}: use 1-64 letters, digits, '.', '_' or '-'."
        )
    if not EMAIL.fullmatch(email):
        raise InvalidInput(f"Invalid email address {email!r}.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters.")
    taken = session.scalar(
        select(User.id).where(
            (func.lower(User.username) == username.lower()) | (func.lower(User.email) == email.lower())
        )
    )
    if taken is not None:
        raise Conflict("That username or email address is already registered.")
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    record_event(session, None, actor, "user.create", username, admin=is_admin or None)
    return user


def add_member(
    session: Session, org: Organization, user: User, role: Role, *, actor: str
) -> Membership:
    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == org.id, Membership.user_id == user.id
        )
    )
    if membership is None:
        membership = Membership(organization_id=org.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    record_event(session, org.id, actor, "member.set", user.username, role=role.value)
    return membership


def parse_org_role(text: str) -> tuple[str, Role]:
    """'acme' -> ('acme', reader); 'acme:owner' -> ('acme', owner)."""
    name, _, role = text.partition(":")
    try:
        return name, Role(role or "reader")
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Invalid role {role!r} in {text!r}: use one of {roles}.") from None
