"""Celery tasks: thin wrappers that load by id and call envelope/."""
from __future__ import annotations

from functools import cache

from celery import shared_task

from envelope import sync
from envelope.config import Settings
from envelope.heartbeats import record_heartbeat
from envelope.runtime import Runtime


@cache
def runtime() -> Runtime:
    return Runtime.from_settings(Settings.from_env())


@shared_task(name="envelope.ingest_run", acks_late=True)
def ingest_run(run_id: int) -> str | None:
    """Idempotent: a run already done, or held by a live worker, is left alone."""
    return sync.execute_run(runtime(), run_id)


@shared_task(name="envelope.poll_all")
def poll_all() -> int:
    return sync.poll_connections(runtime())


@shared_task(name="envelope.reconcile")
def reconcile() -> int:
    """Heals lost work, and its heartbeat proves beat -> broker -> worker moves."""
    with runtime().db.write() as session:
        record_heartbeat(session, "worker")
    return sync.reconcile(runtime())
