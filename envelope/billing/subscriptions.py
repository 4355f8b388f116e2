"""What a Stripe subscription's state means for an organization's plan.

Stripe is the source of truth for money; Envelope keeps, per organization,
the subscription as last seen (BillingAccount) and moves the organization
between plans (envelope.plans.assign_plan):

- active or trialing: the plan whose Stripe price the subscription is for;
- past_due or unpaid: the plan stays for the grace period counted from the
  first failure; the housekeeping task then moves the organization to the
  default plan (enforce_grace);
- canceled, incomplete_expired or paused: the default plan at once.

The default plan only lowers limits: nothing stored is deleted, uploads past
a limit are refused until the organization pays or tidies up."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.config import Settings
from envelope.db import Database
from envelope.mail import queue_mail
from envelope.models import BillingAccount, Membership, Organization, Role, User
from envelope.plans import assign_plan, default_plan, plan_for_price, plan_of

log = logging.getLogger(__name__)
ACTOR = "Stripe"
PAYING = frozenset({"active", "trialing"})
UNPAID = frozenset({"past_due", "unpaid"})
ENDED = frozenset({"canceled", "incomplete_expired", "paused"})


@dataclass(frozen=True)
class BillingState:
    """What the billing page and the API say about an organization."""

    customer: bool  # has a Stripe customer (the portal can open)
    status: str | None  # Stripe's subscription status
    plan: str | None
    past_due_since: datetime | None
    downgrade_on: datetime | None  # when an unpaid subscription falls back to the default plan
    current_period_end: datetime | None
    ends: bool  # cancelled in the portal: ends at current_period_end instead of renewing

    def json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat().replace("+00:00", "Z")

        return {"status": self.status, "plan": self.plan, "past_due_since": iso(self.past_due_since),
                "downgrade_on": iso(self.downgrade_on), "current_period_end": iso(self.current_period_end),
                "cancel_at_period_end": self.ends}


def billing_state(session: Session, settings: Settings, organization_id: int) -> BillingState:
    account = session.get(BillingAccount, organization_id)
    past_due = account.past_due_since if account else None
    return BillingState(
        customer=account is not None,
        status=account.status if account else None,
        plan=plan_of(session, organization_id),
        past_due_since=past_due,
        downgrade_on=None if past_due is None else past_due + timedelta(days=settings.billing_grace_days),
        current_period_end=account.current_period_end if account else None,
        ends=bool(account and account.cancel_at_period_end),
    )


def subscription_price(subscription: dict[str, Any]) -> str | None:
    """The price of the subscription's first item (Envelope sells one plan per subscription)."""
    items = (subscription.get("items") or {}).get("data") or []
    price = items[0].get("price") if items else None
    return price.get("id") if isinstance(price, dict) else price


def bind_customer(session: Session, org: Organization, customer_id: str) -> BillingAccount:
    """The organization's billing account, created for the customer on first sight."""
    account = session.get(BillingAccount, org.id)
    if account is None:
        account = BillingAccount(organization_id=org.id, customer_id=customer_id)
        session.add(account)
        session.flush()
    return account


def apply_subscription(session: Session, settings: Settings, org: Organization, subscription: dict[str, Any],
                       now: datetime) -> str:
    """Move the organization to where the subscription's state puts it;
    returns the outcome recorded with the event."""
    account = bind_customer(session, org, str(subscription["customer"]))
    status = str(subscription.get("status"))
    if account.subscription_id not in (None, subscription["id"]) and account.status in PAYING | UNPAID \
            and status not in PAYING:
        # An older subscription ending (the owner switched) says nothing about the current one.
        return "other-subscription"
    account.customer_id = str(subscription["customer"])
    account.subscription_id, account.status = subscription["id"], status
    account.price_id = subscription_price(subscription)
    period_end = subscription.get("current_period_end") or _item_period_end(subscription)
    account.current_period_end = datetime.fromtimestamp(period_end, timezone.utc) if period_end else None
    account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    if status in PAYING:
        account.past_due_since = None
        plan = plan_for_price(session, account.price_id)
        if plan is None:
            log.error("Stripe subscription %s is for price %s, which no plan names: run "
                      "`envelope plan set PLAN --stripe-price %s`.", subscription["id"], account.price_id, account.price_id)
            return "unknown-price"
        if plan_of(session, org.id) != plan.name:
            assign_plan(session, org, plan.name, actor=ACTOR, billing="plan")
            return "plan-changed"
        return "unchanged"
    if status in UNPAID:
        if account.past_due_since is None:
            account.past_due_since = now
            record_event(session, org.id, ACTOR, AuditAction.billing_unpaid, org.name, status=status)
            _mail_owners(session, settings, org, subject=f"{org.name}: a payment failed", body=_unpaid_mail(
                settings, org, plan_of(session, org.id), now + timedelta(days=settings.billing_grace_days)))
            return "unpaid"
        return "unchanged"
    if status in ENDED:
        return "downgraded" if downgrade(session, settings, org, reason=f"the subscription is {status}") else "unchanged"
    return "ignored"  # incomplete: Checkout has not been paid yet


def downgrade(session: Session, settings: Settings, org: Organization, *, reason: str) -> bool:
    """Put the organization on the default plan; False when it is already there
    or the instance has none (logged: the administrator must define one)."""
    fallback = default_plan(session)
    if fallback is None:
        log.error("%s should fall back to the default plan (%s) but no plan is the default: run "
                  "`envelope plan set NAME --default`.", org.name, reason)
        return False
    if plan_of(session, org.id) == fallback.name:
        return False
    assign_plan(session, org, fallback.name, actor=ACTOR, billing="downgrade")
    _mail_owners(session, settings, org, subject=f"{org.name} is now on the {fallback.name} plan", body=(
        f"{org.name} moved to the {fallback.name} plan because {reason}.\n\n"
        "Nothing was deleted. Past the plan's limits, uploads are refused (storage) and so are downloads\n"
        "until the first of next month (downloads). Subscribe again to get the limits back:\n"
        f"{settings.base_url}/{org.name}/billing\n"))
    return True


def enforce_grace(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Periodic: organizations unpaid for longer than the grace period fall back
    to the default plan. Returns how many moved."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=settings.billing_grace_days)
    moved = 0
    with db.write() as session:
        for account, org in session.execute(
            select(BillingAccount, Organization).join(Organization, Organization.id == BillingAccount.organization_id)
            .where(BillingAccount.past_due_since.is_not(None), BillingAccount.past_due_since <= cutoff,
                   BillingAccount.status.in_(sorted(UNPAID)))
        ).all():
            days = settings.billing_grace_days
            moved += downgrade(session, settings, org, reason=f"its subscription stayed unpaid for {days} days")
    return moved


def _item_period_end(subscription: dict[str, Any]) -> int | None:
    """Since API version 2025-03-31 the period lives on each item, not the subscription."""
    items = (subscription.get("items") or {}).get("data") or []
    return items[0].get("current_period_end") if items else None


def _unpaid_mail(settings: Settings, org: Organization, plan: str | None, on: datetime) -> str:
    return (
        f"Stripe could not collect the payment for {org.name}'s {plan or 'current'} plan and will try again.\n\n"
        f"Unless it is paid by {on:%Y-%m-%d} (UTC), {org.name} moves to the instance's default plan.\n"
        "Nothing is deleted then, but its limits shrink. Update the payment method in the customer portal:\n"
        f"{settings.base_url}/{org.name}/billing\n"
    )


def _mail_owners(session: Session, settings: Settings, org: Organization, *, subject: str, body: str) -> None:
    for email in session.scalars(
        select(User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org.id, Membership.role == Role.owner, User.is_active.is_(True))
    ):
        queue_mail(session, settings, to=email, subject=subject, body=body)
