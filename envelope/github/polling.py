"""What queues sync runs besides webhooks: the hourly poll of every active
connection (conditional requests, so an unchanged repository costs no rate
limit) and the reconciler that re-queues runs whose worker or message was lost."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from envelope.errors import EnvelopeError
from envelope.github.app import access_token
from envelope.github.client import GitHubClient, RateLimited
from envelope.github.sync import lease_seconds
from envelope.models import (
    ConnectionStatus, OutboxMessage, RepositoryConnection, RunStatus, RunTrigger, SyncRun, TaskName,
)
from envelope.models.base import utcnow
from envelope.outbox import enqueue
from envelope.runtime import Runtime


log = logging.getLogger(__name__)

POLL_RELEASES = 10  # newest releases looked at by the hourly poll


def poll_connections(runtime: Runtime) -> int:
    """The hourly poll: one conditional request per repository; a changed
    release list queues a run for each recent release whose assets changed.
    Returns the number of runs queued. Stops early when rate-limited."""
    queued = 0
    with runtime.db.read() as session:
        connection_ids = session.scalars(
            select(RepositoryConnection.id).where(RepositoryConnection.status == ConnectionStatus.active)
        ).all()
    for connection_id in connection_ids:
        try:
            queued += _poll_one(runtime, connection_id)
        except RateLimited as exc:
            log.warning("poll: %s; the rest waits for the next poll", exc)
            break
        except EnvelopeError as exc:
            log.warning("poll: repository #%d: %s", connection_id, exc)
    return queued


def _poll_one(runtime: Runtime, connection_id: int) -> int:
    with runtime.db.read() as session:
        connection = session.get(RepositoryConnection, connection_id)
    client = GitHubClient(runtime.settings.github_api_url, access_token(runtime.db, runtime.settings, connection))
    try:
        changed, etag = client.releases_changed(connection.full_name, connection.releases_etag)
        releases = client.releases(connection.full_name, limit=POLL_RELEASES) if changed else []
    finally:
        client.close()
    queued = 0
    with runtime.db.write() as session:
        for release in releases:
            if release.draft or _latest_fingerprint(session, connection_id, release.id) == release.fingerprint:
                continue
            run = SyncRun(connection_id=connection_id, trigger=RunTrigger.poll, release_id=release.id,
                          release_tag=release.tag, queued_at=utcnow())
            session.add(run)
            session.flush()
            enqueue(session, TaskName.ingest_run, run_id=run.id)
            queued += 1
        row = session.get(RepositoryConnection, connection_id)
        # Remember the ETag only once the runs it implies are recorded.
        row.releases_etag, row.last_polled = etag, utcnow()
    return queued


def _latest_fingerprint(session: Session, connection_id: int, release_id: int) -> str | None:
    return session.scalar(
        select(SyncRun.assets_fingerprint)
        .where(SyncRun.connection_id == connection_id, SyncRun.release_id == release_id,
               SyncRun.status == RunStatus.succeeded)
        .order_by(SyncRun.finished.desc())
        .limit(1)
    )


def reconcile(runtime: Runtime) -> int:
    """Re-queue runs whose worker died (lease expired) and runs whose message
    was lost (queued and due for longer than a lease). Returns how many."""
    now = utcnow()
    stale = now - timedelta(seconds=lease_seconds(runtime))
    requeued = 0
    with runtime.db.write() as session:
        backlog = session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.sent.is_(None), OutboxMessage.not_before < stale)
            .limit(1)
        )
        if backlog is not None:
            log.warning("reconcile: the broker has not taken queued work for a while; waiting")
            return 0
        runs = session.scalars(
            select(SyncRun).where(
                or_(
                    (SyncRun.status == RunStatus.running) & (SyncRun.lease_until < now),
                    (SyncRun.status == RunStatus.queued) & (SyncRun.queued_at < stale),
                )
            )
        ).all()
        for run in runs:
            run.status, run.lease_until, run.queued_at = RunStatus.queued, None, now
            enqueue(session, TaskName.ingest_run, run_id=run.id)
            requeued += 1
    if requeued:
        log.info("reconcile: re-queued %d sync runs", requeued)
    return requeued
