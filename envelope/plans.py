"""Plans: named sets of limits an administrator defines, that organizations follow.

A hosted instance sells plans; the limits are what a plan pays for. An
organization on a plan has the plan's limits (envelope.quotas.get_limits),
so changing a plan changes every organization on it; giving an organization
limits of its own (`envelope org quota`) takes it off its plan. Billing
(Stripe) is not here: whatever moves an organization between plans calls
assign_plan."""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.errors import InvalidInput, NotFound
from envelope.models import OrgQuota, Organization, Plan
from envelope.quotas import Limits, forget, forget_all, format_bytes, set_limits

PLAN_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def define_plan(session: Session, name: str, limits: Limits) -> Plan:
    """Create the plan, or change its limits (every organization on it follows)."""
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


def plan_limits(plan: Plan) -> Limits:
    return Limits(plan.storage_bytes, plan.download_bytes, plan.members)


def plan_of(session: Session, organization_id: int) -> str | None:
    return session.scalar(
        select(Plan.name).join(OrgQuota, OrgQuota.plan_id == Plan.id).where(OrgQuota.organization_id == organization_id)
    )


def assign_plan(session: Session, org: Organization, name: str | None, *, actor: str) -> None:
    """Put the organization on the plan (None: on none, and no limits); audited as org.quota."""
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
    record_event(session, org.id, actor, AuditAction.org_quota, org.name, plan=plan.name,
                 storage="none" if limits.storage_bytes is None else format_bytes(limits.storage_bytes),
                 downloads="none" if limits.download_bytes is None else format_bytes(limits.download_bytes),
                 members="none" if limits.members is None else str(limits.members))
    forget(org.id)
