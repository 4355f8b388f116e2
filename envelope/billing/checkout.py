"""Sending an organization's owner to Stripe: Checkout to subscribe to a
plan, the customer portal to manage the subscription. The plan itself
changes when Stripe's webhook says the subscription is paid
(envelope.billing.webhooks), never here."""
from __future__ import annotations

from envelope import plans
from envelope.audit import AuditAction, record_event
from envelope.billing import stripe_api
from envelope.billing.subscriptions import PAYING, UNPAID
from envelope.config import Settings
from envelope.db import Database
from envelope.errors import InvalidInput
from envelope.models import BillingAccount


def checkout_url(db: Database, settings: Settings, *, organization_id: int, org_name: str, plan_name: str,
                 actor: str, email: str | None) -> str:
    """The Stripe Checkout page for a subscription to `plan_name`, audited.
    Refused for a plan Stripe does not sell and for an organization that
    already has a subscription (its plan changes in the portal)."""
    with db.read() as session:  # no write transaction held while Stripe answers
        plan = plans.get_plan(session, plan_name[:64])
        if plan.stripe_price is None:
            raise InvalidInput(f"Plan {plan.name} is not sold through Stripe.")
        account = session.get(BillingAccount, organization_id)
        if account is not None and account.status in PAYING | UNPAID:
            raise InvalidInput(f"{org_name} already has a subscription: change its plan in the customer portal.")
        customer, price, chosen = (account.customer_id if account else None), plan.stripe_price, plan.name
    url = stripe_api.start_checkout(settings, org_id=organization_id, org_name=org_name, price_id=price,
                                    customer_id=customer, email=email)
    with db.write() as session:
        record_event(session, organization_id, actor, AuditAction.billing_checkout, org_name, plan=chosen)
    return url


def portal_url(db: Database, settings: Settings, *, organization_id: int, org_name: str) -> str:
    """The Stripe customer portal of the organization's subscription;
    refused before it has one."""
    with db.read() as session:
        account = session.get(BillingAccount, organization_id)
        if account is None:
            raise InvalidInput(f"{org_name} has no subscription yet: choose a plan first.")
        customer = account.customer_id
    return stripe_api.open_portal(settings, org_name=org_name, customer_id=customer)
