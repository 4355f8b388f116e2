"""Celery tasks: thin wrappers that load by id and call envelope/."""
from __future__ import annotations

import smtplib
from functools import cache

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from envelope import mail
from envelope.packaging import readme
from envelope.github import polling, sync
from envelope.config import Settings
from envelope.heartbeats import record_heartbeat
from envelope.models import TaskName
from envelope.packaging.publish import remove_stale_spool_files
from envelope.runtime import Runtime
from envelope.upstream import pages as upstream_pages


@cache
def runtime() -> Runtime:
    return Runtime.from_settings(Settings.from_env())


@shared_task(name=TaskName.ingest_run, acks_late=True)
def ingest_run(run_id: int) -> str | None:
    """Idempotent: a run already done, or held by a live worker, is left alone."""
    return sync.execute_run(runtime(), run_id)


@shared_task(
    name=TaskName.render_readme, acks_late=True,
    soft_time_limit=readme.RENDER_TIME_LIMIT, time_limit=readme.RENDER_TIME_LIMIT + 30,
)
def render_readme(release_id: int) -> str | None:
    """Idempotent: a README already rendered, or claimed by another worker, is left alone.
    One that outlasts the time limit is stored as plain text instead."""
    try:
        status = readme.render_stored(runtime().db, release_id)
    except SoftTimeLimitExceeded:
        status = readme.give_up_rendering(runtime().db, release_id)
    return status.value if status else None


@shared_task(name=TaskName.refresh_upstream_page)
def refresh_upstream_page(page_id: int) -> int | None:
    """A stale proxied page, revalidated with its upstream while requests are
    served the stored one. Harmless to rerun: a revalidation at worst asks the
    upstream once more."""
    return upstream_pages.refresh_page(runtime(), page_id)


@shared_task(name=TaskName.poll_all)
def poll_all() -> int:
    return polling.poll_connections(runtime())


@shared_task(name=TaskName.housekeeping)
def housekeeping() -> int:
    """Periodic (beat): removes upload spool files a killed process left
    behind, and tokens trusted publishing minted that stopped working a week
    ago; mails owners whose organization reached 80 % of a limit (once a month per kind);
    moves organizations unpaid past the grace period to the default plan, and
    forgets Stripe events older than any redelivery."""
    from envelope.publishing.exchange import forget_spent_tokens
    from envelope.quota_warnings import mail_warnings

    rt = runtime()
    with rt.db.write() as session:
        forgotten = forget_spent_tokens(session)
    warned = mail_warnings(rt.db, rt.settings)
    downgraded = 0
    if rt.settings.billing_enabled:
        from envelope.billing.subscriptions import enforce_grace
        from envelope.billing.webhooks import forget_old_events

        downgraded = enforce_grace(rt.db, rt.settings)
        forget_old_events(rt.db)
    return remove_stale_spool_files(rt.settings.tmp_dir) + forgotten + warned + downgraded


@shared_task(name=TaskName.lifecycle)
def lifecycle() -> int:
    """Periodic (beat): applies every retention policy and upstream cache
    budget, then removes the blobs nothing refers to any more
    (docs/lifecycle.md). Harmless to rerun."""
    from envelope.lifecycle import collector, retention, upstream_cache

    deleted = retention.run_all(runtime().db)
    evicted = sum(len(org.evicted) for org in upstream_cache.evict_all(runtime().db))
    return deleted + evicted + len(collector.collect(runtime().db, runtime().storage).removed)


@shared_task(name=TaskName.reconcile)
def reconcile() -> int:
    """Heals lost work, and its heartbeat proves beat -> broker -> worker moves."""
    with runtime().db.write() as session:
        record_heartbeat(session, "worker")
    readme.queue_unrendered(runtime().db, stale_after=sync.lease_seconds(runtime()))
    return polling.reconcile(runtime())


@shared_task(
    name=mail.SEND_TASK, acks_late=True,
    autoretry_for=(OSError, smtplib.SMTPException), retry_backoff=5, retry_backoff_max=600, max_retries=12,
)
def send_mail(mail_id: int) -> bool:
    """Idempotent: a message already marked sent is not sent again. A mail
    server that refuses or is unreachable is tried again with back-off."""
    return mail.deliver(runtime().db, runtime().settings, mail_id)
