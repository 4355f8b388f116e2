"""The calls Envelope makes to Stripe's API, through the official library.

The library is imported only here and only when billing is used, so an
instance without billing never loads it. Every failure becomes one
BillingUnavailable sentence; Stripe's own message is logged, never shown
(it may name the account)."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from envelope.config import Settings
from envelope.errors import EnvelopeError

log = logging.getLogger(__name__)
TIMEOUT = 10  # seconds: a page waits on Checkout and portal sessions


class BillingUnavailable(EnvelopeError):
    """Stripe failed or could not be reached; nothing changed, try again."""

    status = 503
    retry_after = 30  # seconds


STRIPE_API = "https://api.stripe.com"
STRIPE_PAGES = ("https://checkout.stripe.com", "https://billing.stripe.com")


def page_origins(settings: Settings) -> tuple[str, ...]:
    """Where Checkout and the portal live, for the billing page's form-action:
    Stripe's own hosts, or the configured API's origin when it is not Stripe's
    (a test's fake, a proxy that serves both)."""
    if settings.stripe_api_url == STRIPE_API:
        return STRIPE_PAGES
    parts = urlsplit(settings.stripe_api_url)
    return (f"{parts.scheme}://{parts.netloc}",)


def _client(settings: Settings) -> Any:
    import stripe

    return stripe.StripeClient(
        settings.stripe_secret_key or "",
        base_addresses={"api": settings.stripe_api_url},
        http_client=stripe.RequestsClient(timeout=TIMEOUT),
        max_network_retries=2,  # with the library's own idempotency keys: a retried create makes one session
    )


def _call(what: str, call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    import stripe

    try:
        return call(*args, **kwargs).to_dict()
    except stripe.StripeError as exc:
        log.warning("Stripe refused to %s: %s (%s)", what, exc.user_message or exc.__class__.__name__,
                    getattr(exc, "request_id", None))
        raise BillingUnavailable(f"Stripe could not {what} just now; nothing changed, try again in a minute.") from None


def start_checkout(settings: Settings, *, org_id: int, org_name: str, price_id: str,
                   customer_id: str | None, email: str | None) -> str:
    """A Checkout session for a subscription to the price; returns the URL to
    send the owner to. Links back are built from the configured base URL."""
    base = f"{settings.base_url}/{org_name}/billing"
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": f"{base}?checkout=done",
        "cancel_url": base,
        "client_reference_id": str(org_id),
        "metadata": {"envelope_organization": str(org_id)},
        # Carried by every subscription event, so a subscription finds its
        # organization even before checkout.session.completed arrives.
        "subscription_data": {"metadata": {"envelope_organization": str(org_id)}},
    }
    if customer_id:
        params["customer"] = customer_id
    elif email:
        params["customer_email"] = email
    session = _call("start a checkout", _client(settings).v1.checkout.sessions.create, params=params)
    return str(session["url"])


def open_portal(settings: Settings, *, org_name: str, customer_id: str) -> str:
    """A customer portal session (change plan, card, invoices, cancel); returns its URL."""
    session = _call("open the customer portal", _client(settings).v1.billing_portal.sessions.create, params={
        "customer": customer_id, "return_url": f"{settings.base_url}/{org_name}/billing",
    })
    return str(session["url"])


def fetch_subscription(settings: Settings, subscription_id: str) -> dict[str, Any]:
    """The subscription as Stripe has it now: events arrive in any order, so
    what they say is looked up fresh rather than taken from the event."""
    return _call("look up a subscription", _client(settings).v1.subscriptions.retrieve, subscription_id)
