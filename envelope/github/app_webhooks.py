"""The GitHub App's webhook: one URL for every installed repository.

Verified with the App's webhook secret (constant time; an instance without
an App checks a decoy, so the answer says nothing), recorded by delivery id
before anything is acted on, then:

- `installation` (created, deleted, suspend, unsuspend) and
  `installation_repositories` (added, removed) keep the installations and
  their connections true: a repository taken out stops syncing, an
  uninstalled App disconnects its connections; nothing is deleted;
- `release` queues a sync run for each active connection of that
  installation and repository, exactly as a repository webhook does.

Release events of an installation Envelope does not know, or one that was
uninstalled or suspended, are refused.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.db import Database
from envelope.errors import Forbidden, InvalidInput, Unauthorized
from envelope.github.webhooks import decoy_sealed_secret, record_release_in, signature_matches
from envelope.models import (
    AppDelivery,
    ConnectionStatus,
    GitHubApp,
    GitHubInstallation,
    InstallationStatus,
    RepositoryConnection,
)
from envelope.models.base import utcnow
from envelope.sealing import unseal
from envelope.webhook_result import WebhookResult

log = logging.getLogger(__name__)
REFUSED = "Webhook signature does not match this instance's GitHub App."
ACTOR = "github"  # who the audit log names for GitHub's own changes


@dataclass(frozen=True)
class _Delivery:
    event: str
    delivery_id: str
    action: str | None
    installation_id: int
    payload: dict


def receive_app_webhook(
    db: Database, secret_key: str, *, event: str, delivery_id: str, signature: str | None, body: bytes
) -> WebhookResult:
    """Raises Unauthorized (no signature), Forbidden (bad signature; or an
    installation that is unknown, uninstalled or suspended), InvalidInput."""
    if not signature:
        raise Unauthorized("Missing X-Hub-Signature-256: the App's webhook secret signs every delivery.")
    with db.read() as session:
        sealed = session.scalar(select(GitHubApp.webhook_secret_sealed).order_by(GitHubApp.id).limit(1))
    if not signature_matches(unseal(secret_key, sealed or decoy_sealed_secret(secret_key)), body, signature) \
            or sealed is None:
        log.warning("App webhook %r refused: bad signature", delivery_id)
        raise Forbidden(REFUSED)
    if event == "ping":
        return WebhookResult(200, "pong")
    delivery = _parse(event, delivery_id, body)
    handler = _HANDLERS.get(event)
    if handler is None:
        return WebhookResult(202, f"Ignored: {event} events are not used.")
    return handler(db, delivery)


def _parse(event: str, delivery_id: str, body: bytes) -> _Delivery:
    if not delivery_id or len(delivery_id) > 100:
        raise InvalidInput("Missing or invalid X-GitHub-Delivery header.")
    try:
        payload = json.loads(body)
        installation_id = int(payload["installation"]["id"])
        action = payload.get("action")
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("Webhook body is not a GitHub App event with an installation.") from None
    return _Delivery(event, delivery_id, action if isinstance(action, str) else None, installation_id, payload)


def _first_time(session: Session, delivery: _Delivery) -> bool:
    """Record the delivery; False when it was recorded before (a redelivery)."""
    if session.scalar(select(AppDelivery.id).where(AppDelivery.delivery_id == delivery.delivery_id)):
        return False
    session.add(AppDelivery(delivery_id=delivery.delivery_id, event=delivery.event, action=delivery.action,
                            installation_id=delivery.installation_id))
    session.flush()
    return True


ALREADY = WebhookResult(200, "Already received; nothing to do.")


def _installation(db: Database, delivery: _Delivery) -> WebhookResult:
    account = (delivery.payload["installation"].get("account") or {})
    try:
        with db.write() as session:
            if not _first_time(session, delivery):
                return ALREADY
            row = session.scalar(select(GitHubInstallation).where(
                GitHubInstallation.installation_id == delivery.installation_id))
            if row is None:
                if delivery.action != "created":
                    return WebhookResult(202, f"Ignored: installation {delivery.installation_id} is not known here.")
                row = GitHubInstallation(installation_id=delivery.installation_id,
                                         account_login=str(account.get("login", "")),
                                         account_type=str(account.get("type", "User")))
                session.add(row)
            status = {"created": InstallationStatus.active, "unsuspend": InstallationStatus.active,
                      "suspend": InstallationStatus.suspended, "deleted": InstallationStatus.deleted}.get(
                          delivery.action or "")
            if status is None:
                return WebhookResult(202, f"Ignored: installation action {delivery.action!r}.")
            row.status, row.updated = status, utcnow()
            session.flush()
            changed = _follow_installation(session, row, status)
            if row.organization_id is not None:
                record_event(session, row.organization_id, ACTOR, AuditAction.github_app_installation,
                             row.account_login, change=delivery.action, connections=changed or None)
            return WebhookResult(200, f"Installation {delivery.installation_id} is {status}.")
    except IntegrityError:
        return ALREADY


def _follow_installation(session: Session, row: GitHubInstallation, status: InstallationStatus) -> int:
    """Connections follow their installation; a repository taken out of it stays out."""
    moves = {
        InstallationStatus.deleted: ((ConnectionStatus.active, ConnectionStatus.suspended),
                                     ConnectionStatus.disconnected),
        InstallationStatus.suspended: ((ConnectionStatus.active,), ConnectionStatus.suspended),
        InstallationStatus.active: ((ConnectionStatus.suspended,), ConnectionStatus.active),
    }
    before, after = moves[status]
    result = session.execute(
        update(RepositoryConnection)
        .where(RepositoryConnection.installation_id == row.id, RepositoryConnection.status.in_(before))
        .values(status=after)
    )
    return result.rowcount


def _installation_repositories(db: Database, delivery: _Delivery) -> WebhookResult:
    if delivery.action not in ("added", "removed"):
        return WebhookResult(202, f"Ignored: installation_repositories action {delivery.action!r}.")
    key = "repositories_added" if delivery.action == "added" else "repositories_removed"
    try:
        names = sorted({str(r["full_name"]).lower() for r in delivery.payload.get(key) or []})
    except (KeyError, TypeError):
        raise InvalidInput(f"Webhook body has a malformed {key}.") from None
    before, after = (
        (ConnectionStatus.removed, ConnectionStatus.active) if delivery.action == "added"
        else (ConnectionStatus.active, ConnectionStatus.removed)
    )
    try:
        with db.write() as session:
            if not _first_time(session, delivery):
                return ALREADY
            row = _active_installation(session, delivery.installation_id)
            connections = session.scalars(select(RepositoryConnection).where(
                RepositoryConnection.installation_id == row.id,
                RepositoryConnection.full_name.in_(names),
                RepositoryConnection.status == before,
            )).all()
            for connection in connections:
                connection.status = after
                record_event(session, connection.organization_id, ACTOR, AuditAction.repo_status,
                             connection.full_name, status=after)
            return WebhookResult(200, f"{len(connections)} connection(s) now {after}.")
    except IntegrityError:
        return ALREADY


def _active_installation(session: Session, installation_id: int) -> GitHubInstallation:
    row = session.scalar(select(GitHubInstallation).where(GitHubInstallation.installation_id == installation_id))
    if row is None or row.status != InstallationStatus.active:
        state = "unknown" if row is None else row.status
        log.warning("App webhook for installation %d refused: %s", installation_id, state)
        raise Forbidden(f"Installation {installation_id} is {state} here: its events are not accepted.")
    return row


def _release(db: Database, delivery: _Delivery) -> WebhookResult:
    try:
        full_name = str(delivery.payload["repository"]["full_name"]).lower()
    except (KeyError, TypeError):
        raise InvalidInput("Webhook body is not a GitHub event with a repository.") from None
    try:
        with db.write() as session:
            if not _first_time(session, delivery):
                return ALREADY
            row = _active_installation(session, delivery.installation_id)
            connection_ids = list(session.scalars(select(RepositoryConnection.id).where(
                RepositoryConnection.installation_id == row.id,
                RepositoryConnection.full_name == full_name,
                RepositoryConnection.status == ConnectionStatus.active,
            ).order_by(RepositoryConnection.id)))
            if not connection_ids:
                return WebhookResult(202, f"Ignored: {full_name} is not connected through this installation.")
            # The delivery and the runs it queues commit together, or neither does.
            results = [record_release_in(session, connection_id, delivery.delivery_id, delivery.payload)
                       for connection_id in connection_ids]
    except IntegrityError:
        return ALREADY
    return WebhookResult(min(r.status for r in results), " ".join(r.message for r in results))


_HANDLERS = {
    "installation": _installation,
    "installation_repositories": _installation_repositories,
    "release": _release,
}
