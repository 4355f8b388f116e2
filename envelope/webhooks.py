"""GitHub webhook intake: verify, record, answer at once.

The delivery, the sync run and its outbox row are written in one
transaction; the broker is never contacted here, so webhooks keep being
accepted while it is down. A redelivered webhook (same X-GitHub-Delivery)
finds its row and changes nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from envelope.db import Database
from envelope.errors import Forbidden, InvalidInput, Unauthorized
from envelope.models import RepositoryConnection, SyncRun, WebhookDelivery
from envelope.models.base import utcnow
from envelope.outbox import enqueue
from envelope.repositories import webhook_secret

log = logging.getLogger(__name__)
RELEASE_ACTIONS = frozenset({"published", "released", "prereleased", "edited"})
REFUSED = "Webhook signature does not match a connected repository."


@dataclass(frozen=True)
class WebhookResult:
    status: int
    message: str


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


def receive_webhook(
    db: Database, secret_key: str, *, event: str, delivery_id: str, signature: str | None, body: bytes
) -> WebhookResult:
    """Raises Unauthorized (no signature), Forbidden (unknown repository or bad
    signature: one message for both, so it confirms nothing), InvalidInput."""
    if not signature:
        raise Unauthorized("Missing X-Hub-Signature-256: set a secret on the webhook.")
    try:
        payload = json.loads(body)
        full_name = payload["repository"]["full_name"].lower()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput("Webhook body is not a GitHub event with a repository.") from None
    with db.read() as session:
        connection = session.scalar(
            select(RepositoryConnection).where(RepositoryConnection.full_name == full_name)
        )
        secret = webhook_secret(connection, secret_key) if connection else None
    if connection is None or not signature_matches(secret or "", body, signature):
        # Both come from the request: %r keeps a forged newline from faking log lines.
        log.warning("webhook %r for %r refused: unknown repository or bad signature", delivery_id, full_name)
        raise Forbidden(REFUSED)
    if event == "ping":
        return WebhookResult(200, "pong")
    if event != "release":
        return WebhookResult(202, f"Ignored: {event} events are not used.")
    return _record_release(db, connection.id, delivery_id, payload)


def _record_release(db: Database, connection_id: int, delivery_id: str, payload: dict) -> WebhookResult:
    action = payload.get("action")
    release = payload.get("release") or {}
    wanted = action in RELEASE_ACTIONS and not release.get("draft")
    if not delivery_id or len(delivery_id) > 100:
        raise InvalidInput("Missing or invalid X-GitHub-Delivery header.")
    try:
        with db.write() as session:
            if session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.delivery_id == delivery_id)):
                return WebhookResult(200, "Already received; nothing to do.")
            delivery = WebhookDelivery(
                delivery_id=delivery_id,
                connection_id=connection_id,
                event="release",
                action=action,
                release_id=release.get("id"),
                outcome="queued" if wanted else "ignored",
            )
            session.add(delivery)
            if not wanted:
                return WebhookResult(202, f"Ignored: release action {action!r}.")
            pending = session.scalar(
                select(SyncRun.id).where(
                    SyncRun.connection_id == connection_id,
                    SyncRun.release_id == release.get("id"),
                    SyncRun.status == "queued",
                    SyncRun.followup_index == 0,
                )
            )
            if pending:  # GitHub sends published and released together: one run serves both
                delivery.outcome = "coalesced"
                return WebhookResult(202, f"Queued with sync run #{pending}.")
            run = SyncRun(
                connection_id=connection_id,
                trigger="webhook",
                release_id=release.get("id"),
                release_tag=release.get("tag_name"),
                queued_at=utcnow(),
            )
            session.add(run)
            session.flush()
            enqueue(session, "envelope.ingest_run", run_id=run.id)
            return WebhookResult(202, f"Queued sync run #{run.id}.")
    except IntegrityError:  # the same delivery raced in on another thread
        return WebhookResult(200, "Already received; nothing to do.")
