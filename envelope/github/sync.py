"""Ingest GitHub releases: idempotent, streaming, resumable.

A run is claimed with a lease before any work and extended while it works;
assets are streamed to a spool file and published through publish_file, so a
rerun after a crash publishes nothing twice (same bytes are a no-op, and an
asset already seen unchanged is not even downloaded).
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from envelope.errors import EnvelopeError, Forbidden, InvalidDistribution, StorageUnavailable
from envelope.github.client import Asset, DigestMismatch, GitHubClient, GitHubUnavailable, RateLimited, Release
from envelope.models import (
    AssetOutcome,
    DigestCheck,
    FileSource,
    Organization,
    RepositoryConnection,
    RunStatus,
    RunTrigger,
    SyncAsset,
    SyncRun,
    TaskName,
)
from envelope.models import Release as ReleaseRow
from envelope.models.base import utcnow
from envelope.names import parse_filename
from envelope.outbox import enqueue
from envelope.packaging.publish import publish_file
from envelope.github.app import access_token
from envelope.github.repositories import connection_principal
from envelope.runtime import Runtime

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6  # a run that failed transiently this often is marked failed
STABLE_POLLS_TO_STOP = 2  # follow-ups stop once the assets were unchanged this often
DONE = (RunStatus.succeeded, RunStatus.failed)


def lease_seconds(runtime: Runtime) -> float:
    """How long a claimed run stays claimed without a sign of life."""
    return max(5.0, 5.0 * runtime.settings.reconcile_interval)


@dataclass
class Progress:
    """Hooks for a foreground sync's progress bar; the worker passes none."""

    asset_started: Callable[[Asset], None] = lambda asset: None
    bytes_done: Callable[[int], None] = lambda n: None
    asset_done: Callable[[Asset, AssetOutcome, str | None], None] = lambda asset, outcome, reason: None


@dataclass
class _Tally:
    seen: int = 0
    counts: dict[AssetOutcome, int] = field(default_factory=dict)


def claim_run(runtime: Runtime, run_id: int) -> bool:
    """Take the run if nobody holds a live lease on it; True when we got it."""
    now = utcnow()
    with runtime.db.write() as session:
        result = session.execute(
            update(SyncRun)
            .where(
                SyncRun.id == run_id,
                SyncRun.status.in_((RunStatus.queued, RunStatus.running)),
                or_(SyncRun.lease_until.is_(None), SyncRun.lease_until < now),
            )
            .values(
                status=RunStatus.running,
                started=now,
                attempts=SyncRun.attempts + 1,
                lease_until=now + timedelta(seconds=lease_seconds(runtime)),
            )
        )
        return result.rowcount == 1


def _extend_lease(runtime: Runtime, run_id: int) -> None:
    with runtime.db.write() as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds(runtime)))
        )


def execute_run(runtime: Runtime, run_id: int, progress: Progress | None = None) -> RunStatus | None:
    """Do one claimed run to the end; returns its final status, or None when
    the run was done already or another worker holds it (a harmless duplicate)."""
    if not claim_run(runtime, run_id):
        return None
    progress = progress or Progress()
    with runtime.db.read() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        connection = session.get(RepositoryConnection, run.connection_id)
        organization = session.get(Organization, connection.organization_id)
    try:
        token = access_token(runtime.db, runtime.settings, connection)
    except GitHubUnavailable as exc:
        return _retry_later(runtime, run_id, str(exc), getattr(exc, "reset_at", None))
    except EnvelopeError as exc:  # not active, or the App's installation refused
        return _finish(runtime, run_id, RunStatus.failed, error=str(exc))
    client = GitHubClient(runtime.settings.github_api_url, token)
    try:
        if run.release_id is not None:
            releases = [client.release(connection.full_name, run.release_id)]
        else:
            releases = client.releases(connection.full_name)
        tally = _Tally()
        for release in releases:
            if not release.draft:
                _ingest_release(runtime, client, run_id, connection, organization, release, tally, progress)
    except RateLimited as exc:
        return _retry_later(runtime, run_id, str(exc), exc.reset_at)
    except (GitHubUnavailable, StorageUnavailable) as exc:
        # Transient: retried with back-off, and no fingerprint is kept, so
        # the poll does not take the release for done.
        return _retry_later(runtime, run_id, str(exc), None)
    except EnvelopeError as exc:
        return _finish(runtime, run_id, RunStatus.failed, error=str(exc))
    finally:
        client.close()
    fingerprint = releases[0].fingerprint if run.release_id is not None and releases else None
    return _finish(runtime, run_id, RunStatus.succeeded, tally=tally, fingerprint=fingerprint,
                   tag=releases[0].tag if len(releases) == 1 else None)


def _ingest_release(runtime, client, run_id, connection, organization, release: Release, tally, progress) -> None:
    principal = connection_principal(connection)
    for asset in release.assets:
        tally.seen += 1
        progress.asset_started(asset)
        outcome, reason, check = _ingest_asset(
            runtime, client, connection, organization, principal, asset, release, run_id, progress
        )
        tally.counts[outcome] = tally.counts.get(outcome, 0) + 1
        with runtime.db.write() as session:
            _record_asset(session, run_id, asset, outcome, reason, check)
        _extend_lease(runtime, run_id)
        progress.asset_done(asset, outcome, reason)


def _ingest_asset(
    runtime, client, connection, organization, principal, asset: Asset, release: Release, run_id, progress
) -> tuple[AssetOutcome, str | None, DigestCheck | None]:
    try:
        parsed = parse_filename(asset.name)
    except InvalidDistribution:
        return AssetOutcome.ignored, "not a wheel or sdist", None
    try:
        principal.check_upload(parsed.name, parsed.version)
    except Forbidden as exc:
        return AssetOutcome.refused, str(exc), None
    if _seen_before(runtime, connection.id, asset):
        return AssetOutcome.present, "already published from this asset", None
    fd, spool_name = tempfile.mkstemp(dir=runtime.settings.tmp_dir, prefix="upload-", suffix=".part")
    spool = Path(spool_name)
    last_beat = [time.monotonic()]

    def on_bytes(count: int) -> None:
        progress.bytes_done(count)
        if time.monotonic() - last_beat[0] > lease_seconds(runtime) / 3:
            _extend_lease(runtime, run_id)
            last_beat[0] = time.monotonic()

    try:
        with os.fdopen(fd, "wb") as out:
            verified = client.download(asset, out, max_size=runtime.settings.max_file_size, progress=on_bytes)
        check = DigestCheck.verified if verified else DigestCheck.unverified
        with open(spool, "rb") as stream:
            result = publish_file(
                runtime.db,
                runtime.storage,
                organization=organization,
                principal=principal,
                filename=asset.name,
                stream=stream,
                source=FileSource.github,
                spool_dir=runtime.settings.tmp_dir,
                max_size=runtime.settings.max_file_size,
            )
    except (GitHubUnavailable, StorageUnavailable):
        raise  # transient: the whole run retries later
    except DigestMismatch as exc:
        log.warning("sync run #%d: %s", run_id, exc)
        return AssetOutcome.failed, str(exc), DigestCheck.mismatch
    except EnvelopeError as exc:
        return AssetOutcome.failed, str(exc), None
    finally:
        spool.unlink(missing_ok=True)
    if release.immutable is not None:
        _record_immutable(runtime, result.file.release_id, release.immutable)
    if result.created:
        return AssetOutcome.published, None, check
    return AssetOutcome.present, "same bytes already published", check


def _record_immutable(runtime: Runtime, release_id: int, immutable: bool) -> None:
    """What GitHub says of the release its files came from, for the release page."""
    with runtime.db.write() as session:
        session.execute(update(ReleaseRow).where(ReleaseRow.id == release_id).values(github_immutable=immutable))


def _seen_before(runtime: Runtime, connection_id: int, asset: Asset) -> bool:
    with runtime.db.read() as session:
        return session.scalar(
            select(SyncAsset.id)
            .join(SyncRun, SyncAsset.run_id == SyncRun.id)
            .where(
                SyncRun.connection_id == connection_id,
                SyncAsset.asset_id == asset.id,
                SyncAsset.asset_updated_at == asset.updated_at,
                SyncAsset.outcome.in_((AssetOutcome.published, AssetOutcome.present)),
            )
            .limit(1)
        ) is not None


def _record_asset(
    session: Session, run_id: int, asset: Asset, outcome: AssetOutcome, reason: str | None, check: DigestCheck | None
) -> None:
    row = session.scalar(select(SyncAsset).where(SyncAsset.run_id == run_id, SyncAsset.name == asset.name))
    if row is None:
        row = SyncAsset(run_id=run_id, name=asset.name)
        session.add(row)
    row.size, row.outcome, row.reason, row.digest_check = asset.size, outcome, reason, check
    row.asset_id, row.asset_updated_at = asset.id, asset.updated_at


def _retry_later(runtime: Runtime, run_id: int, error: str, not_before) -> RunStatus:
    with runtime.db.write() as session:
        run = session.get(SyncRun, run_id)
        if run.attempts >= MAX_ATTEMPTS:
            return _close(session, run, RunStatus.failed, error=f"gave up after {run.attempts} attempts: {error}")
        delay = min(2 ** run.attempts, 300)
        if not_before is not None:
            delay = max(delay, (not_before - utcnow()).total_seconds() + 1)
        due = utcnow() + timedelta(seconds=delay)
        run.status, run.error, run.lease_until, run.queued_at = RunStatus.queued, error, None, due
        enqueue(session, TaskName.ingest_run, delay=delay, run_id=run_id)
        log.info("sync run #%d: %s; retrying in %.0fs", run_id, error, delay)
        return RunStatus.queued


def _finish(runtime: Runtime, run_id: int, status: RunStatus, *, error=None, tally=None, fingerprint=None, tag=None) -> RunStatus:
    with runtime.db.write() as session:
        run = session.get(SyncRun, run_id)
        if tally is not None:
            run.assets_seen = tally.seen
            run.published = tally.counts.get(AssetOutcome.published, 0)
            run.present = tally.counts.get(AssetOutcome.present, 0)
            run.skipped = tally.counts.get(AssetOutcome.ignored, 0) + tally.counts.get(AssetOutcome.refused, 0)
            run.failed = tally.counts.get(AssetOutcome.failed, 0)
        run.release_tag = tag or run.release_tag
        if fingerprint is not None:
            previous = _previous_fingerprint(session, run)
            run.assets_fingerprint = fingerprint
            run.stable_polls = (
                run.stable_polls + 1 if previous == fingerprint and run.assets_seen else 0
            )
        status = _close(session, run, status, error=error)
        if status == RunStatus.succeeded and run.release_id is not None and run.trigger in (RunTrigger.webhook, RunTrigger.followup):
            _schedule_followup(session, runtime.settings.sync_followups, run)
        return status


def _close(session: Session, run: SyncRun, status: RunStatus, *, error: str | None = None) -> RunStatus:
    run.status, run.error, run.finished, run.lease_until = status, error, utcnow(), None
    return status


def _previous_fingerprint(session: Session, run: SyncRun) -> str | None:
    return session.scalar(
        select(SyncRun.assets_fingerprint)
        .where(
            SyncRun.connection_id == run.connection_id,
            SyncRun.release_id == run.release_id,
            SyncRun.id != run.id,
            SyncRun.status == RunStatus.succeeded,
            SyncRun.assets_fingerprint.is_not(None),
        )
        .order_by(SyncRun.finished.desc())
        .limit(1)
    )


def _schedule_followup(session: Session, schedule: tuple[int, ...], run: SyncRun) -> None:
    """CI attaches wheels minutes after the release is published: poll again
    on the schedule until the assets stop changing."""
    index = run.followup_index
    if index >= len(schedule) or run.stable_polls >= STABLE_POLLS_TO_STOP:
        return
    already = session.scalar(
        select(SyncRun.id).where(
            SyncRun.connection_id == run.connection_id,
            SyncRun.release_id == run.release_id,
            SyncRun.status == RunStatus.queued,
            SyncRun.trigger == RunTrigger.followup,
        )
    )
    if already:
        return
    delay = schedule[index] - (schedule[index - 1] if index else 0)
    follow = SyncRun(
        connection_id=run.connection_id,
        trigger=RunTrigger.followup,
        release_id=run.release_id,
        release_tag=run.release_tag,
        followup_index=index + 1,
        stable_polls=run.stable_polls,
        queued_at=utcnow() + timedelta(seconds=delay),
    )
    session.add(follow)
    session.flush()
    enqueue(session, TaskName.ingest_run, delay=delay, run_id=follow.id)


def start_manual_run(runtime: Runtime, full_name: str, org_name: str | None = None, *, actor: str = "cli") -> int:
    """A run over every release, for `envelope sync`; executed in the foreground.
    Recorded like the web's sync (repositories.new_manual_run)."""
    from envelope.github.repositories import find_connection, new_manual_run

    with runtime.db.write() as session:
        connection = find_connection(session, full_name, org_name)
        return new_manual_run(session, connection, actor=actor).id
