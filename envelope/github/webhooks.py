"""GitHub webhook intake: verify, record, answer at once.

The delivery, the sync run and its outbox row are written in one
transaction; the broker is never contacted here, so webhooks keep being
accepted while it is down. A redelivered webhook (same X-GitHub-Delivery)
finds its row and changes nothing.

Several organizations may connect the same repository, each with its own
webhook (and secret): a delivery counts for each connection whose secret
signed it. An unknown repository costs the same work as a known one (a
decoy secret is unsealed and checked), so neither the answer nor its
timing tells an outsider which repositories are connected.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.db import Database
from envelope.errors import Forbidden, InvalidInput, Unauthorized
from envelope.models import ConnectionStatus, DeliveryOutcome, RepositoryConnection, RunStatus, RunTrigger, SyncRun, TaskName, WebhookDelivery
from envelope.models.base import utcnow
from envelope.outbox import enqueue
from envelope.sealing import seal, unseal
from envelope.webhook_result import WebhookResult

log = logging.getLogger(__name__)
RELEASE_ACTIONS = frozenset({"published", "released", "prereleased", "edited"})
REFUSED = "Webhook signature does not match a connected repository."


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
        candidates: list[tuple[int | None, str]] = [
            (id_, sealed)
            for id_, sealed in session.execute(
                select(RepositoryConnection.id, RepositoryConnection.webhook_secret_sealed)
                .where(
                    RepositoryConnection.full_name == full_name,
                    # App connections have no secret: the App's webhook covers them.
                    RepositoryConnection.webhook_secret_sealed.is_not(None),
                    RepositoryConnection.status == ConnectionStatus.active,
                )
                .order_by(RepositoryConnection.id)
            )
        ] or [(None, decoy_sealed_secret(secret_key))]
    # Every candidate is checked (no early exit), the decoy like the rest.
    checked = [(id_, signature_matches(unseal(secret_key, sealed), body, signature)) for id_, sealed in candidates]
    verified = [id_ for id_, matches in checked if matches and id_ is not None]
    if not verified:
        # Both come from the request: %r keeps a forged newline from faking log lines.
        log.warning("webhook %r for %r refused: unknown repository or bad signature", delivery_id, full_name)
        raise Forbidden(REFUSED)
    if event == "ping":
        return WebhookResult(200, "pong")
    if event != "release":
        return WebhookResult(202, f"Ignored: {event} events are not used.")
    results = [record_release(db, connection_id, delivery_id, payload) for connection_id in verified]
    if len(results) == 1:
        return results[0]
    return WebhookResult(min(r.status for r in results), " ".join(r.message for r in results))


@functools.lru_cache(maxsize=4)
def decoy_sealed_secret(secret_key: str) -> str:
    """A sealed random secret nobody knows, made once per process: what an
    unknown repository's delivery is checked against."""
    return seal(secret_key, secrets.token_urlsafe(32))


def record_release(db: Database, connection_id: int, delivery_id: str, payload: dict) -> WebhookResult:
    if not delivery_id or len(delivery_id) > 100:
        raise InvalidInput("Missing or invalid X-GitHub-Delivery header.")
    try:
        with db.write() as session:
            return record_release_in(session, connection_id, delivery_id, payload)
    except IntegrityError:  # the same delivery raced in on another thread
        return WebhookResult(200, "Already received; nothing to do.")


def record_release_in(session: Session, connection_id: int, delivery_id: str, payload: dict) -> WebhookResult:
    """The delivery and, for a release worth it, its sync run and outbox row,
    in the caller's transaction."""
    action = payload.get("action")
    release = payload.get("release") or {}
    wanted = action in RELEASE_ACTIONS and not release.get("draft")
    if session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.connection_id == connection_id, WebhookDelivery.delivery_id == delivery_id
        )
    ):
        return WebhookResult(200, "Already received; nothing to do.")
    delivery = WebhookDelivery(
        delivery_id=delivery_id,
        connection_id=connection_id,
        event="release",
        action=action,
        release_id=release.get("id"),
        outcome=DeliveryOutcome.queued if wanted else DeliveryOutcome.ignored,
    )
    session.add(delivery)
    if not wanted:
        return WebhookResult(202, f"Ignored: release action {action!r}.")
    pending = session.scalar(
        select(SyncRun.id).where(
            SyncRun.connection_id == connection_id,
            SyncRun.release_id == release.get("id"),
            SyncRun.status == RunStatus.queued,
            SyncRun.followup_index == 0,
        )
    )
    if pending:  # GitHub sends published and released together: one run serves both
        delivery.outcome = DeliveryOutcome.coalesced
        return WebhookResult(202, f"Queued with sync run #{pending}.")
    run = SyncRun(
        connection_id=connection_id,
        trigger=RunTrigger.webhook,
        release_id=release.get("id"),
        release_tag=release.get("tag_name"),
        queued_at=utcnow(),
    )
    session.add(run)
    session.flush()
    enqueue(session, TaskName.ingest_run, run_id=run.id)
    return WebhookResult(202, f"Queued sync run #{run.id}.")
