"""Stripe webhook intake: verify, look up, record and act in one transaction.

The signature (Stripe-Signature: t=…,v1=HMAC-SHA256 of "t.body") is checked
by the official library, with its five-minute tolerance, so a captured
request cannot be replayed later; within those minutes the event id is the
guard: the event's row is written in the transaction that acts on it, so a
redelivery or a replay finds it and changes nothing, and a failure leaves
neither (Stripe retries). Events arrive in any order, so the subscription
they concern is fetched from Stripe before the transaction opens and its
state now is applied, never the event's snapshot."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.billing.stripe_api import fetch_subscription
from envelope.billing.subscriptions import apply_subscription, bind_customer
from envelope.config import Settings
from envelope.db import Database
from envelope.errors import InvalidInput, NotFound
from envelope.webhook_result import WebhookResult
from envelope.models import BillingAccount, Organization, StripeEvent

log = logging.getLogger(__name__)
TOLERANCE = 300  # seconds a signature stays acceptable (Stripe's own default)
KEEP_EVENTS = timedelta(days=30)  # Stripe retries for 3 days; a replay older than 5 minutes fails its signature
ORG_KEY = "envelope_organization"  # metadata key Checkout sets on the session and the subscription


def receive_stripe_event(db: Database, settings: Settings, *, signature: str | None, body: bytes,
                         now: datetime | None = None) -> WebhookResult:
    """Raises NotFound (billing is off: the endpoint does not exist) and
    InvalidInput (no or bad signature, not an event)."""
    import stripe

    if not settings.billing_enabled:
        raise NotFound("Not Found")
    if not signature:
        raise InvalidInput("Missing Stripe-Signature: this endpoint takes Stripe's signed webhooks only.")
    try:
        stripe.WebhookSignature.verify_header(body, signature, settings.stripe_webhook_secret, tolerance=TOLERANCE)
    except stripe.SignatureVerificationError:
        raise InvalidInput("Stripe-Signature does not match this endpoint's signing secret, "
                           "or is older than five minutes.") from None
    try:
        event = json.loads(body)
        event_id, event_type, obj = str(event["id"]), str(event["type"]), event["data"]["object"]
        created = int(event["created"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("Webhook body is not a Stripe event.") from None

    subscription_id = _subscription_of(event_type, obj)
    subscription = fetch_subscription(settings, subscription_id) if subscription_id else None
    now = now or datetime.now(timezone.utc)
    try:
        with db.write() as session:
            if session.get(StripeEvent, event_id) is not None:
                return WebhookResult(200, "Already processed.")
            org = _organization(session, event_type, obj, subscription)
            outcome = "ignored"
            if org is None:
                outcome = "unknown-customer" if subscription_id else "ignored"
            elif subscription is not None:
                outcome = apply_subscription(session, settings, org, subscription, now)
            elif event_type == "checkout.session.completed" and obj.get("customer"):
                bind_customer(session, org, str(obj["customer"]))
                outcome = "customer-bound"
            session.add(StripeEvent(id=event_id, type=event_type, created=created,
                                    organization_id=org.id if org else None, outcome=outcome))
    except IntegrityError:  # the same event, acted on by a concurrent delivery
        return WebhookResult(200, "Already processed.")
    log.info("Stripe event %s (%s): %s", event_id, event_type, outcome)
    return WebhookResult(200, f"Processed: {outcome}.")


def _subscription_of(event_type: str, obj: dict[str, Any]) -> str | None:
    """The subscription an event concerns, if it concerns one."""
    if event_type.startswith("customer.subscription."):
        return obj.get("id")
    if event_type == "checkout.session.completed" and obj.get("mode") == "subscription":
        return obj.get("subscription")
    if event_type.startswith("invoice."):
        # API versions before 2025-03-31 put it on the invoice; later ones under parent.
        parent = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        return obj.get("subscription") or parent
    return None


def _organization(session: Session, event_type: str, obj: dict[str, Any], subscription: dict[str, Any] | None
                  ) -> Organization | None:
    """The organization by its known customer first, else by the id Checkout carried."""
    customer = (subscription or obj).get("customer")
    if customer:
        org_id = session.scalar(select(BillingAccount.organization_id).where(BillingAccount.customer_id == str(customer)))
        if org_id is not None:
            return session.get(Organization, org_id)
    reference = ((subscription or {}).get("metadata") or {}).get(ORG_KEY)
    if reference is None and event_type == "checkout.session.completed":
        reference = obj.get("client_reference_id")
    if reference is not None and str(reference).isdigit():
        return session.get(Organization, int(reference))
    return None


def forget_old_events(db: Database, now: datetime | None = None) -> int:
    """Periodic: drop event records no redelivery can need any more."""
    cutoff = (now or datetime.now(timezone.utc)) - KEEP_EVENTS
    with db.write() as session:
        return session.execute(delete(StripeEvent).where(StripeEvent.received < cutoff)).rowcount or 0
