"""Invitations to join an organization: sent by email, accepted once.

The link carries a random secret; only its SHA-256 is stored, so a copy of
the database cannot be turned into working links. An invitation expires
after INVITATION_LIFETIME, works once, and an owner can revoke it.

The invitee may have no account yet: the acceptance page links to sign-up
with ``?invitation=SECRET``, and `invitation_for_signup` is what the sign-up
view calls to let that person register even while sign-up is closed.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from envelope.accounts.users import EMAIL
from envelope.audit import AuditAction, record_event
from envelope.errors import Conflict, Forbidden, InvalidInput, NotFound
from envelope.orgs.capabilities import Capability
from envelope.orgs.membership import OrgAccess, user_label
from envelope.models import Invitation, Membership, Organization, Role, User
from envelope.models.base import utcnow
from envelope.quotas import check_members

INVITATION_LIFETIME = timedelta(days=7)
MAX_SECRET_LENGTH = 100  # characters: anything longer is not one of ours
MAX_ROW_ID = 2**63 - 1  # larger ids cannot exist, and would overflow the query


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    secret: str  # goes into the emailed link, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invite(session: Session, access: OrgAccess, email: str, role: Role) -> NewInvitation:
    """Invite `email` with `role` (owners only). A pending invitation to the
    same address is replaced, so "send again" never leaves two live links."""
    access.require(Capability.MANAGE_MEMBERS, "invite members")
    email = email.strip()
    if not EMAIL.fullmatch(email):
        raise InvalidInput(f"Invalid email address {email!r}.")
    organization = access.organization
    member = session.scalar(
        select(User.username)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization.id, func.lower(User.email) == email.lower())
    )
    if member is not None:
        raise Conflict(f"{email} already belongs to {member}, a member of {organization.name}.")
    check_members(session, organization.id)  # at the limit: say so now, not when the link is followed
    now = utcnow()
    for old in pending_invitations(session, organization):
        if old.email.lower() == email.lower():
            old.revoked = now
    secret = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=organization.id,
        email=email,
        role=role,
        token_hash=_digest(secret),
        invited_by=access.user.id if access.user else None,
        created=now,
        expires=now + INVITATION_LIFETIME,
    )
    session.add(invitation)
    session.flush()
    record_event(session, organization.id, access.actor, AuditAction.invitation_create, email, role=role.value)
    return NewInvitation(invitation, secret)


def pending_invitations(session: Session, organization: Organization) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.organization_id == organization.id,
                Invitation.accepted.is_(None),
                Invitation.revoked.is_(None),
                Invitation.expires > utcnow(),
            )
            .order_by(Invitation.created.desc())
        )
    )


def revoke_invitation(session: Session, access: OrgAccess, invitation_id: int) -> Invitation:
    access.require(Capability.MANAGE_MEMBERS, "revoke invitations")
    invitation = session.get(Invitation, invitation_id) if 0 < invitation_id <= MAX_ROW_ID else None
    if invitation is None or invitation.organization_id != access.organization.id:
        raise NotFound(f"No invitation #{invitation_id} in {access.organization.name}.")
    if invitation.accepted is None and invitation.revoked is None:
        invitation.revoked = utcnow()
        record_event(session, access.organization.id, access.actor, AuditAction.invitation_revoke, invitation.email)
    return invitation


def find_invitation(session: Session, secret: str) -> Invitation:
    """The invitation a link's secret stands for, whatever its state (for the
    acceptance page to explain); NotFound when there is none."""
    invitation = None
    if secret and len(secret) <= MAX_SECRET_LENGTH:
        invitation = session.scalar(select(Invitation).where(Invitation.token_hash == _digest(secret)))
    if invitation is None:
        raise NotFound("This invitation link is not valid: check that you copied all of it.")
    return invitation


def invitation_problem(invitation: Invitation, now: datetime | None = None) -> str | None:
    """Why this invitation can no longer be accepted, or None while it can."""
    now = now or utcnow()
    if invitation.accepted is not None:
        return "This invitation has already been accepted; it works only once."
    if invitation.revoked is not None:
        return "This invitation was withdrawn; ask an owner of the organization for a new one."
    if invitation.expires <= now:
        return (
            f"This invitation expired on {invitation.expires:%Y-%m-%d %H:%M} UTC; "
            "ask an owner of the organization for a new one."
        )
    return None


def live_invitation(session: Session, secret: str) -> Invitation:
    """The invitation if it can still be accepted; NotFound with the reason otherwise."""
    invitation = find_invitation(session, secret)
    problem = invitation_problem(invitation)
    if problem:
        raise NotFound(problem)
    return invitation


def invitation_for_signup(session: Session, secret: str | None) -> Invitation | None:
    """For the sign-up view: the live invitation `secret` names, or None.

    A live invitation lets its holder create an account even while sign-up
    is closed; it is not consumed here (acceptance is a separate step)."""
    if not secret:
        return None
    try:
        return live_invitation(session, secret)
    except NotFound:
        return None


def same_address(a: str, b: str) -> bool:
    """Whether two email addresses are the same account's, as sign-up and
    sign-in compare them: surrounding blanks and case do not count."""
    return a.strip().lower() == b.strip().lower()


def wrong_account_problem(invitation: Invitation, user: User) -> str | None:
    """Why `user` may not accept this invitation, or None when they may.

    The link is bound to the address it was emailed to: anyone it was
    forwarded to (or who found it in a shared inbox or a log) would
    otherwise join the organization under their own account."""
    if same_address(invitation.email, user.email):
        return None
    return (
        f"This invitation was sent to {invitation.email}, and you are signed in as "
        f"{user.username} ({user.email}). Sign in as the account with that address to accept it, "
        "or ask an owner of the organization to invite your own address."
    )


def accept_invitation(session: Session, secret: str, user: User) -> Membership:
    """Make `user` a member with the invited role; works once, and only for the
    account whose address the invitation went to (Forbidden otherwise, with
    nothing changed). A user who is already a member keeps the higher of the
    two roles.

    An account with that address whose address was not yet confirmed counts
    as confirmed afterwards: following a link mailed there proves the
    mailbox, as sign-up through an invitation already assumes."""
    invitation = live_invitation(session, secret)
    problem = wrong_account_problem(invitation, user)
    if problem:
        raise Forbidden(problem)
    # Claim it with a conditional update: of two concurrent acceptances only
    # one changes the row.
    now = utcnow()
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted.is_(None), Invitation.revoked.is_(None))
        .values(accepted=now)
    ).rowcount
    if claimed != 1:
        raise NotFound("This invitation has already been accepted; it works only once.")
    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == invitation.organization_id, Membership.user_id == user.id
        )
    )
    if membership is None:
        check_members(session, invitation.organization_id)
        membership = Membership(organization_id=invitation.organization_id, user_id=user.id, role=invitation.role)
        session.add(membership)
    elif membership.role.rank < invitation.role.rank:
        membership.role = invitation.role
    # `user` may come from another session (the signed-in user): update the row.
    session.execute(
        update(User).where(User.id == user.id, User.email_verified.is_(None)).values(email_verified=now)
    )
    session.flush()
    record_event(
        session, invitation.organization_id, user_label(user), AuditAction.invitation_accept, user.username,
        email=invitation.email, role=membership.role.value,
    )
    return membership


def invitation_email(organization: Organization, role: Role, inviter: User | None, link: str) -> tuple[str, str]:
    """The subject and body of the email that carries an invitation link."""
    who = inviter.username if inviter else "An owner"
    subject = f"You are invited to join {organization.name} on Envelope"
    body = (
        f"{who} invited you to join the organization {organization.name} as a {role.value}.\n\n"
        f"Accept the invitation here (the link works once and expires in "
        f"{INVITATION_LIFETIME.days} days):\n\n  {link}\n\n"
        "If you did not expect this email, ignore it.\n"
    )
    return subject, body
