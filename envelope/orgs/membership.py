"""Who may do what inside an organization, for people and their tokens.

Outsiders learn nothing: an organization the caller is not a member of is
NotFound, exactly like a missing one. Members whose role is too low get
Forbidden with a sentence naming the role needed. At least one owner always
remains: demoting or removing the last one is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from envelope.accounts.users import user_label
from envelope.audit import AuditAction, record_event
from envelope.orgs.authentication import verify
from envelope.orgs.capabilities import (
    ORGANIZATION_WIDE, READ_SCOPE, SCOPE_CAPABILITIES, UPLOAD_SCOPE, Capability, least_role, member_capabilities,
)
from envelope.orgs.identity import Caller, bump_auth_epoch, operator
from envelope.errors import Conflict, Forbidden, NotFound
from envelope.models import AccessToken, Membership, Organization, Role, User
from envelope.models.base import utcnow


@dataclass(frozen=True)
class OrgAccess:
    """A Caller together with the rows it acts on in this transaction: the
    organization (and, for a member or a user's token, the user).

    The Caller is the identity and its capabilities; this pairing lives
    only as long as the session that loaded the rows and is never cached."""

    organization: Organization
    caller: Caller
    user: User | None = None

    @property
    def principal(self) -> Caller:  # the old name
        return self.caller

    @property
    def role(self) -> Role:
        """The member's role; a token's is what its capabilities amount to
        (maintainer when it may upload, reader otherwise), never owner."""
        if self.caller.via_token or self.caller.role is None:
            return Role.maintainer if self.caller.can_upload else Role.reader
        return self.caller.role

    @property
    def token_id(self) -> int | None:
        return self.caller.token_id

    @property
    def via_token(self) -> bool:
        return self.caller.via_token

    @property
    def actor(self) -> str:
        return self.caller.label

    def allows(self, capability: Capability) -> bool:
        return self.caller.may(capability)

    def require(self, capability: Capability, to: str) -> None:
        """Forbidden, saying what `to` (e.g. 'yank releases') needs, unless allowed."""
        if self.allows(capability):
            return
        least = least_role(capability)
        if self.via_token:
            if capability in ORGANIZATION_WIDE and self.caller.restrictions is not None:
                raise Forbidden(f"This token is limited to some projects: it cannot {to}.")
            if capability not in SCOPE_CAPABILITIES[UPLOAD_SCOPE]:
                where = " as an owner" if least is Role.owner else ""
                raise Forbidden(f"Access tokens cannot {to}; sign in to the web UI{where}.")
            if self.caller.scope == READ_SCOPE and capability not in SCOPE_CAPABILITIES[READ_SCOPE]:
                raise Forbidden(f"This token may only read; to {to} use a token with upload scope.")
            if self.caller.user_id is None:
                raise Forbidden(f"Deploy tokens are for the index and uploads only: they cannot {to}.")
        if self.caller.role is None or least is None:
            raise Forbidden(f"You cannot {to}.")
        raise Forbidden(
            f"Only {_role_phrase(least)} of {self.organization.name} can {to}; "
            f"your role is {self.caller.role.value}."
        )


def _role_phrase(role: Role) -> str:
    return "owners" if role is Role.owner else "owners and maintainers" if role is Role.maintainer else "members"


def member_caller(organization: Organization, user: User, role: Role) -> Caller:
    return Caller(
        organization_id=organization.id,
        label=user_label(user),
        capabilities=member_capabilities(role),
        user_id=user.id,
        organization_name=organization.name,
        role=role,
        noun="You",
        auth_epoch=organization.auth_epoch or 0,
    )


member_principal = member_caller  # the old name


def member_access(session: Session, org_name: str, user: User) -> OrgAccess:
    """The signed-in user's access to `org_name`; NotFound unless they are a member."""
    row = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Organization.name == org_name, Membership.user_id == user.id)
    ).first()
    if row is None or not user.is_active:
        raise NotFound(f"No organization named {org_name!r}.")
    organization, role = row
    return OrgAccess(organization, member_caller(organization, user, role), user=user)


def require_role(
    session: Session, org_name: str, user: User, capability: Capability = Capability.READ_INDEX, *,
    to: str = "do that",
) -> OrgAccess:
    """member_access, then Forbidden unless the user holds `capability`."""
    access = member_access(session, org_name, user)
    access.require(capability, to)
    return access


def operator_access(organization: Organization, label: str) -> OrgAccess:
    """The operator at the CLI acting in `organization`: every capability, no
    user. The CLI hands this to the same domain functions the pages call."""
    return OrgAccess(organization, operator(organization, label))


def caller_access(session: Session, caller: Caller) -> OrgAccess:
    """An authenticated Caller with its rows loaded in this session."""
    organization = session.get(Organization, caller.organization_id)
    if organization is None:
        raise NotFound("Not Found")
    user = session.get(User, caller.user_id) if caller.user_id is not None else None
    return OrgAccess(organization, caller, user=user)


def token_access(session: Session, org_name: str, secret: str) -> tuple[OrgAccess, int | None]:
    """An access token's rights in `org_name` and, when its last-used time is
    stale, its id (the caller records the use in a write transaction).
    Unauthorized for a bad token; NotFound for another organization's."""
    verified = verify(session, org_name, "__token__", secret)
    return caller_access(session, verified.caller), verified.token_use_to_record


def organizations_of(session: Session, user: User) -> list[tuple[Organization, Role]]:
    rows = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name)
    )
    return [(org, role) for org, role in rows]


def list_members(session: Session, organization: Organization) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization.id)
            .order_by(func.lower(User.username))
        )
    )


def find_member(session: Session, organization: Organization, username: str) -> Membership:
    membership = session.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == organization.id,
            func.lower(User.username) == username.lower(),
        )
    )
    if membership is None:
        raise NotFound(f"{username!r} is not a member of {organization.name}.")
    return membership


def _other_owners(session: Session, organization: Organization, membership: Membership) -> int:
    # Locks the owners' rows (PostgreSQL) so two owners demoting each other
    # at once cannot both succeed; SQLite writers are serialised anyway.
    owners = session.scalars(
        select(Membership.id)
        .where(Membership.organization_id == organization.id, Membership.role == Role.owner)
        .with_for_update()
    ).all()
    return len([owner for owner in owners if owner != membership.id])


def _keep_an_owner(session: Session, organization: Organization, membership: Membership, doing: str) -> None:
    if membership.role is Role.owner and _other_owners(session, organization, membership) == 0:
        raise Conflict(
            f"{organization.name} must keep at least one owner: make someone else an owner "
            f"before {doing}."
        )


def change_role(
    session: Session, access: OrgAccess, username: str, role: Role
) -> Membership:
    """Set a member's role (owners only). Conflict if it would leave no owner."""
    access.require(Capability.MANAGE_MEMBERS, "change roles")
    membership = find_member(session, access.organization, username)
    if membership.role is role:
        return membership
    if role is not Role.owner:
        _keep_an_owner(session, access.organization, membership, "changing this role")
    previous = membership.role
    membership.role = role
    bump_auth_epoch(session, access.organization.id)
    record_event(
        session, access.organization.id, access.actor, AuditAction.member_role, membership.user.username,
        role=role.value, previous=previous.value,
    )
    return membership


def remove_member(session: Session, access: OrgAccess, username: str) -> None:
    """Remove a member: owners may remove anyone, anyone may remove themselves
    (leave). Their tokens in this organization are revoked with them, so a
    later re-invitation does not bring old tokens back to life."""
    membership = find_member(session, access.organization, username)
    leaving = access.user is not None and membership.user_id == access.user.id and not access.via_token
    if not leaving:
        access.require(Capability.MANAGE_MEMBERS, "remove members")
    _keep_an_owner(
        session, access.organization, membership, "leaving" if leaving else "removing this owner"
    )
    now = utcnow()
    tokens = session.scalars(
        select(AccessToken).where(
            AccessToken.organization_id == access.organization.id,
            AccessToken.user_id == membership.user_id,
            AccessToken.revoked.is_(None),
        )
    ).all()
    for token in tokens:
        token.revoked = now
    record_event(
        session, access.organization.id, access.actor, AuditAction.member_leave if leaving else AuditAction.member_remove,
        membership.user.username, role=membership.role.value, tokens_revoked=len(tokens) or None,
    )
    session.delete(membership)
    bump_auth_epoch(session, access.organization.id)
    session.flush()
