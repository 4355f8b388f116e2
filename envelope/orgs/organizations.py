"""Organizations: made (by the CLI, the web UI or the API alike), claimed by an
administrator when nobody owns them, and given members."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.accounts.users import user_label
from envelope.audit import AuditAction, record_event
from envelope.errors import Conflict, Forbidden, InvalidInput, NotFound
from envelope.models import Membership, Organization, Role, User
from envelope.names import validate_org_name
from envelope.orgs.identity import bump_auth_epoch
from envelope.plans import join_default_plan
from envelope.quotas import check_members


def get_organization(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"No organization named {name!r}; `envelope org create {name}` makes one.")
    return org


def create_organization(
    session: Session, name: str, *, owner: User | None = None, actor: str | None = None
) -> Organization:
    """The one way an organization is made, from the CLI, the web UI and the
    API alike: same name rules, same audit events. `owner` becomes its first
    owner (the signed-in creator, or `org create --owner`); without one the
    organization has no member until an administrator claims it
    (claim_organization). `actor` defaults to the owner."""
    if actor is None:
        if owner is None:
            raise ValueError("create_organization needs an actor or an owner")
        actor = user_label(owner)
    validate_org_name(name)
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise Conflict(f"Organization {name!r} already exists.")
    org = Organization(name=name)
    session.add(org)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"Organization {name!r} already exists.") from None
    record_event(session, org.id, actor, AuditAction.org_create, name)
    if owner is not None:
        session.add(Membership(organization_id=org.id, user_id=owner.id, role=Role.owner))
        session.flush()
        record_event(session, org.id, actor, AuditAction.member_add, owner.username, role=Role.owner.value)
    join_default_plan(session, org, actor=actor)
    return org


def ownerless_organizations(session: Session) -> list[Organization]:
    """Organizations nobody owns (made by `envelope org create` without
    --owner): only an administrator can reach them, by claiming them."""
    owned = select(Membership.organization_id).where(Membership.role == Role.owner)
    return list(session.scalars(select(Organization).where(Organization.id.not_in(owned)).order_by(Organization.name)))


def claim_organization(session: Session, name: str, admin: User) -> Organization:
    """An administrator becomes the owner of an organization that has none.
    Forbidden for anyone else; Conflict once it has an owner (ask them)."""
    if not (admin.is_admin and admin.is_active):
        raise Forbidden("Only administrators of this Envelope instance can claim an organization.")
    org = get_organization(session, name)
    owner = select(Membership.id).where(Membership.organization_id == org.id, Membership.role == Role.owner)
    if session.scalar(owner.limit(1)) is not None:
        raise Conflict(f"{name} already has an owner; ask them to add you.")
    membership = session.scalar(
        select(Membership).where(Membership.organization_id == org.id, Membership.user_id == admin.id)
    )
    if membership is None:
        session.add(Membership(organization_id=org.id, user_id=admin.id, role=Role.owner))
    else:
        membership.role = Role.owner
    session.flush()
    record_event(session, org.id, user_label(admin), AuditAction.org_claim, admin.username, role=Role.owner.value)
    return org


def add_member(
    session: Session, org: Organization, user: User, role: Role, *, actor: str
) -> Membership:
    """Add `user` to `org` with `role`, or change the role of a member.
    Conflict when that would demote the organization's last owner."""
    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == org.id, Membership.user_id == user.id
        )
    )
    if membership is not None and membership.role is Role.owner and role is not Role.owner:
        owners = session.scalar(
            select(func.count()).select_from(Membership)
            .where(Membership.organization_id == org.id, Membership.role == Role.owner)
        )
        if owners <= 1:
            raise Conflict(f"{user.username} is the only owner of {org.name}: make someone else an owner first.")
    if membership is None:
        check_members(session, org.id)
        membership = Membership(organization_id=org.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
        bump_auth_epoch(session, org.id)
    session.flush()
    record_event(session, org.id, actor, AuditAction.member_set, user.username, role=role.value)
    return membership


def parse_org_role(text: str) -> tuple[str, Role]:
    """'acme' -> ('acme', reader); 'acme:owner' -> ('acme', owner)."""
    name, _, role = text.partition(":")
    try:
        return name, Role(role or "reader")
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Invalid role {role!r} in {text!r}: use one of {roles}.") from None
