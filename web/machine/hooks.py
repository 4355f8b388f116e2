"""POST /hooks/github: repository webhooks (logic in envelope.github.webhooks);
POST /hooks/github/app: the GitHub App's one webhook (envelope.github.app_webhooks);
POST /hooks/stripe: Stripe's billing events (envelope.billing.webhooks), 404 while billing is off."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request

from envelope.github.app import WEBHOOK_PATH as APP_WEBHOOK_PATH
from envelope.github.app_webhooks import receive_app_webhook
from envelope.github.webhooks import receive_webhook
from envelope.webhook_result import WebhookResult
from web.bodies import read_body
from web.runtime import runtime

bp = Blueprint("hooks", __name__)

# GitHub caps webhook payloads at 25 MB; the body is read before its signature
# can be checked, so anyone may send one: read no more than GitHub would send.
MAX_PAYLOAD = 25 * 1024**2  # bytes
MAX_STRIPE_PAYLOAD = 1024**2  # bytes; Stripe's events are a few kilobytes


@bp.post("/hooks/github")
def github() -> Response:
    return _receive(receive_webhook)


@bp.post(APP_WEBHOOK_PATH)
def github_app() -> Response:
    return _receive(receive_app_webhook)


@bp.post("/hooks/stripe")
def stripe() -> Response:
    from envelope.billing.webhooks import receive_stripe_event

    rt = runtime()
    return _answer(receive_stripe_event(
        rt.db, rt.settings, signature=request.headers.get("Stripe-Signature"),
        body=read_body(MAX_STRIPE_PAYLOAD, "Webhook payload"),
    ))


def _receive(receiver: Callable[..., WebhookResult]) -> Response:
    """Both webhooks take the same headers and the same bounded body."""
    rt = runtime()
    return _answer(receiver(
        rt.db,
        rt.settings.secret_key,
        event=request.headers.get("X-GitHub-Event", ""),
        delivery_id=request.headers.get("X-GitHub-Delivery", ""),
        signature=request.headers.get("X-Hub-Signature-256"),
        body=read_body(MAX_PAYLOAD, "Webhook payload"),
    ))


def _answer(result: WebhookResult) -> Response:
    response = jsonify(message=result.message)
    response.status_code = result.status
    return response
