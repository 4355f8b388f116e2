"""The Celery application, configured from Envelope's settings."""
from __future__ import annotations

from celery import Celery

from envelope.config import Settings
from envelope.models import TaskName

from worker import broker, embedded_beat


def make_celery(settings: Settings, *, with_tasks: bool = True) -> Celery:
    """JSON only, late acks and prefetch 1: a task a dead worker held runs again.

    Beat sends tasks by name and never runs one, so its app (with_tasks=False)
    leaves out the task modules, which import every service, boto3 and the
    renderers (about 45 MB that beat would hold for nothing)."""
    include = ["worker.tasks", "worker.relay"] if with_tasks else []
    app = Celery("envelope", broker=settings.broker_url, include=include)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "reconcile": {"task": TaskName.reconcile, "schedule": float(settings.reconcile_interval)},
            "poll": {"task": TaskName.poll_all, "schedule": float(settings.poll_interval)},
            "housekeeping": {"task": TaskName.housekeeping, "schedule": float(settings.housekeeping_interval)},
            "lifecycle": {"task": TaskName.lifecycle, "schedule": float(settings.housekeeping_interval)},
        },
    )
    broker.install()
    if with_tasks:
        embedded_beat.install(app)  # `envelope serve` runs beat on a worker thread
    if settings.broker_url.startswith("redis"):
        # A message a dead worker held comes back after this long; the
        # reconciler usually re-queues the run sooner.
        app.conf.broker_transport_options = {"visibility_timeout": 3600}
    app.conf.broker_connection_timeout = 5
    app.conf.envelope_settings = settings
    return app
