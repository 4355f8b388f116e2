"""Billing a hosted instance through Stripe (docs/billing.md), off unless
ENVELOPE_STRIPE_SECRET_KEY and ENVELOPE_STRIPE_WEBHOOK_SECRET are set.

Plans (envelope.plans) carry the limits; a plan names the Stripe price that
pays for it. An owner subscribes through Stripe Checkout and manages the
subscription in Stripe's customer portal; Stripe's signed webhooks move the
organization between plans (webhooks.py, subscriptions.py). An unpaid
subscription keeps its plan for a grace period, then the organization falls
back to the default plan: limits shrink, nothing is ever deleted."""
