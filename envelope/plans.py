"""Plans: named sets of limits an administrator defines, that organizations follow.

A hosted instance sells plans; the limits are what a plan pays for. An
organization on a plan has the plan's limits (envelope.quotas.get_limits),
so changing a plan changes every organization on it; giving an organization
limits of its own (`envelope org quota`) takes it off its plan. Billing
(Stripe) is not here: whatever moves an organization between plans calls
assign_plan."""
from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.errors import InvalidInput, NotFound
from envelope.models import OrgQuota, Organization, Plan
from envelope.quotas import Limits, forget, forget_all, format_bytes, set_limits

PLAN_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
STRIPE_PRICE = re.compile(r"price_[A-Za-z0-9]{1,90}")
KEEP = object()  # define_plan: leave the plan's price as it is


def define_plan(session: Session, name: str, limits: Limits, *, stripe_price: str | None | object = KEEP,
                default: bool | None = None) -> Plan:
    """Create the plan, or change its limits (every organization on it follows).

    `stripe_price` (price_…, or None for none) is the Stripe price that pays
    for it; `default=True` makes it the plan new and unpaid organizations are
    on (at most one plan is)."""
    if not PLAN_NAME.fullmatch(name):
        raise InvalidInput(f"{name!r} is not a plan name: use lowercase letters, digits and dashes, such as team-10.")
    for value in (limits.storage_bytes, limits.download_bytes, limits.members):
        if value is not None and value < 0:
            raise InvalidInput("A limit cannot be negative; leave it out for no limit.")
    plan = session.scalar(select(Plan).where(Plan.name == name))
    if plan is None:
        plan = Plan(name=name)
        session.add(plan)
    plan.storage_bytes, plan.download_bytes, plan.members = limits.storage_bytes, limits.download_bytes, limits.members
    if stripe_price is not KEEP:
        if stripe_price is not None and not STRIPE_PRICE.fullmatch(str(stripe_price)):
            raise InvalidInput(f"{stripe_price!r} is not a Stripe price id: copy it from the price in Stripe's "
                               "dashboard (it starts with price_).")
        owner = session.scalar(select(Plan.name).where(Plan.stripe_price == stripe_price, Plan.name != name))
        if stripe_price is not None and owner is not None:
            raise InvalidInput(f"Stripe price {stripe_price} already pays for plan {owner}.")
        plan.stripe_price = stripe_price  # type: ignore[assignment]
    if default:
        session.execute(update(Plan).where(Plan.name != name).values(is_default=False))
    if default is not None:
        plan.is_default = default
    session.flush()
    forget_all()  # this process; others within envelope.quotas.CACHE_SECONDS
    return plan


def get_plan(session: Session, name: str) -> Plan:
    plan = session.scalar(select(Plan).where(Plan.name == name))
    if plan is None:
        known = ", ".join(session.scalars(select(Plan.name).order_by(Plan.name))) or "none yet"
        raise NotFound(f"No plan named {name!r} (plans: {known}); define it with `envelope plan set {name} …`.")
    return plan


def list_plans(session: Session) -> list[tuple[Plan, int]]:
    """Every plan with how many organizations are on it."""
    counts = dict(session.execute(
        select(OrgQuota.plan_id, func.count()).where(OrgQuota.plan_id.is_not(None)).group_by(OrgQuota.plan_id)
    ).all())
    return [(plan, counts.get(plan.id, 0)) for plan in session.scalars(select(Plan).order_by(Plan.name))]


def default_plan(session: Session) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.is_default.is_(True)))


def plan_for_price(session: Session, price_id: str | None) -> Plan | None:
    return None if not price_id else session.scalar(select(Plan).where(Plan.stripe_price == price_id))


def priced_plans(session: Session) -> list[Plan]:
    """The plans one can subscribe to, in the order of their storage (smallest first)."""
    return list(session.scalars(
        select(Plan).where(Plan.stripe_price.is_not(None)).order_by(Plan.storage_bytes.is_(None), Plan.storage_bytes, Plan.name)
    ))


def join_default_plan(session: Session, org: Organization, *, actor: str) -> None:
    """A new organization starts on the default plan, when the instance has one."""
    plan = default_plan(session)
    if plan is not None:
        assign_plan(session, org, plan.name, actor=actor)


def plan_limits(plan: Plan) -> Limits:
    return Limits(plan.storage_bytes, plan.download_bytes, plan.members)


def plan_of(session: Session, organization_id: int) -> str | None:
    return session.scalar(
        select(Plan.name).join(OrgQuota, OrgQuota.plan_id == Plan.id).where(OrgQuota.organization_id == organization_id)
    )


def assign_plan(session: Session, org: Organization, name: str | None, *, actor: str,
                billing: str | None = None) -> None:
    """Put the organization on the plan (None: on none, and no limits); audited
    as org.quota, or as what billing did: "plan" (the subscription's plan) or
    "downgrade" (to the default plan)."""
    if name is None:
        set_limits(session, org, Limits(), actor=actor)
        return
    plan = get_plan(session, name)
    row = session.get(OrgQuota, org.id)
    if row is None:
        row = OrgQuota(organization_id=org.id, warned={})
        session.add(row)
    row.plan_id = plan.id
    session.flush()
    limits = plan_limits(plan)
    record_event(session, org.id, actor,
                 AuditAction.org_quota if billing is None
                 else AuditAction.billing_downgrade if billing == "downgrade" else AuditAction.billing_plan,
                 org.name, plan=plan.name,
                 storage="none" if limits.storage_bytes is None else format_bytes(limits.storage_bytes),
                 downloads="none" if limits.download_bytes is None else format_bytes(limits.download_bytes),
                 members="none" if limits.members is None else str(limits.members))
    forget(org.id)
