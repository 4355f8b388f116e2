"""Celery tasks: thin wrappers that load by id and call envelope/."""
from __future__ import annotations

from functools import cache

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from envelope import readme, sync
from envelope.config import Settings
from envelope.heartbeats import record_heartbeat
from envelope.models import TaskName
from envelope.runtime import Runtime


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


@shared_task(name=TaskName.poll_all)
def poll_all() -> int:
    return sync.poll_connections(runtime())


@shared_task(name=TaskName.reconcile)
def reconcile() -> int:
    """Heals lost work, and its heartbeat proves beat -> broker -> worker moves."""
    with runtime().db.write() as session:
        record_heartbeat(session, "worker")
    readme.queue_unrendered(runtime().db, stale_after=sync.lease_seconds(runtime()))
    return sync.reconcile(runtime())
