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

from envelope.access import Principal
from envelope.accounts import user_label
from envelope.audit import AuditAction, record_event
from envelope.authentication import authenticate
from envelope.errors import Conflict, Forbidden, NotFound
from envelope.models import AccessToken, Membership, Organization, Role, User
from envelope.models.base import utcnow
from envelope.tokens import find_token


@dataclass(frozen=True)
class OrgAccess:
    """A caller inside one organization: a signed-in member, or an access token.

    A token's `role` is what its scope grants (maintainer for upload scope,
    reader otherwise), already capped by its user's role; tokens never get
    owner-level rights."""

    organization: Organization
    role: Role
    principal: Principal
    user: User | None = None
    token_id: int | None = None

    @property
    def via_token(self) -> bool:
        return self.token_id is not None

    @property
    def actor(self) -> str:
        return self.principal.label

    def allows(self, role: Role) -> bool:
        if self.via_token and role is Role.owner:
            return False
        return self.role.rank >= role.rank

    def require(self, role: Role, to: str) -> None:
        """Forbidden, saying which role `to` (e.g. 'yank releases') needs, unless allowed."""
        if self.allows(role):
            return
        if self.via_token:
            if role is Role.owner:
                raise Forbidden(f"Access tokens cannot {to}; sign in to the web UI as an owner.")
            raise Forbidden(f"This token may only read; to {to} use a token with upload scope.")
        raise Forbidden(
            f"Only {_role_phrase(role)} of {self.organization.name} can {to}; "
            f"your role is {self.role.value}."
        )


def _role_phrase(role: Role) -> str:
    return "owners" if role is Role.owner else "owners and maintainers" if role is Role.maintainer else "members"


def member_principal(organization: Organization, user: User, role: Role) -> Principal:
    return Principal(
        organization_id=organization.id,
        label=user_label(user),
        can_upload=role.rank >= Role.maintainer.rank,
        can_manage=role is Role.owner,
        user_id=user.id,
        noun="You",
    )


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
    return OrgAccess(organization, role, member_principal(organization, user, role), user=user)


def require_role(
    session: Session, org_name: str, user: User, role: Role = Role.reader, *, to: str = "do that"
) -> OrgAccess:
    """member_access, then Forbidden unless the user's role is at least `role`."""
    access = member_access(session, org_name, user)
    access.require(role, to)
    return access


def token_access(session: Session, org_name: str, secret: str) -> tuple[OrgAccess, int | None]:
    """An access token's rights in `org_name` and, when its last-used time is
    stale, its id (the caller records the use in a write transaction).
    Unauthorized for a bad token; NotFound for another organization's."""
    auth = authenticate(session, org_name, "__token__", secret)
    principal = auth.principal
    role = Role.maintainer if principal.can_upload else Role.reader
    user = session.get(User, principal.user_id) if principal.user_id is not None else None
    access = OrgAccess(auth.organization, role, principal, user=user, token_id=principal.token_id)
    return access, auth.token_use_to_record


def token_home(session: Session, secret: str) -> tuple[OrgAccess, int | None]:
    """token_access in the token's own organization, whichever that is."""
    token = find_token(session, secret)
    organization = session.get(Organization, token.organization_id)
    assert organization is not None  # the foreign key cascades
    return token_access(session, organization.name, secret)


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
    access.require(Role.owner, "change roles")
    membership = find_member(session, access.organization, username)
    if membership.role is role:
        return membership
    if role is not Role.owner:
        _keep_an_owner(session, access.organization, membership, "changing this role")
    previous = membership.role
    membership.role = role
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
        access.require(Role.owner, "remove members")
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
    session.flush()
