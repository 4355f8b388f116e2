"""The Celery application, configured from Envelope's settings."""
from __future__ import annotations

from celery import Celery

from envelope.config import Settings

from worker import broker


def make_celery(settings: Settings) -> Celery:
    """JSON only, late acks and prefetch 1: a task a dead worker held runs again."""
    app = Celery("envelope", broker=settings.broker_url, include=["worker.tasks"])
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
            # Runs with the reconciler's rhythm: both prove the pipeline moves.
            "heartbeat": {"task": "envelope.heartbeat", "schedule": float(settings.reconcile_interval)},
        },
    )
    broker.install()
    app.conf.envelope_settings = settings
    return app
