"""Celery tasks: thin wrappers that call envelope/."""
from __future__ import annotations

from functools import cache

from celery import shared_task

from envelope.heartbeats import record_heartbeat
from envelope.config import Settings
from envelope.runtime import Runtime


@cache
def _runtime() -> Runtime:
    return Runtime.from_settings(Settings.from_env())


@shared_task(name="envelope.heartbeat")
def heartbeat() -> None:
    """Proves beat, broker and worker are all alive: /healthz reports its time."""
    with _runtime().db.write() as session:
        record_heartbeat(session, "worker")
