"""Beat as a thread of the worker, for `envelope serve` on the embedded broker.

A separate `celery beat` process holds Celery, kombu and SQLAlchemy a second
time (about 50 MB PSS) to send three periodic messages. On one machine with
the embedded SQLite broker there is exactly one worker, so `envelope serve`
runs `celery worker --embedded-beat` instead: the same scheduler (celery's
beat Service, the same schedule file) on a thread of the worker.

The guarantee of a supervised beat is kept: if the beat thread ends while
the worker is not shutting down, the worker process exits with BEAT_DIED,
so `serve` restarts worker and beat together (the reconciler re-enqueues
whatever the worker held). Celery's own `worker -B` would fork beat into a
child that nobody restarts if it dies, which is why it is not used.

Production (Procfile, docker-compose) keeps `celery beat` as its own
process: with several workers, exactly one beat must run.
"""
from __future__ import annotations

import logging
import os
import threading

import click
from celery import Celery, bootsteps
from celery.beat import Service

log = logging.getLogger(__name__)

OPTION = "--embedded-beat"
STOP_WITHIN = 1.0  # seconds: beat's longest sleep, so shutting the worker down waits no longer
BEAT_DIED = 70  # exit status (EX_SOFTWARE) of a worker whose beat thread ended on its own


class EmbeddedBeat(bootsteps.StartStopStep):
    """Runs beat's Service on a thread; ends the process if that thread dies."""

    label = "EmbeddedBeat"

    def __init__(self, worker, embedded_beat: bool = False, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.enabled = embedded_beat
        self.service: Service | None = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self, worker) -> None:
        # A short loop, as celery's own threaded beat: stop() waits for it.
        self.service = Service(worker.app, schedule_filename=worker.schedule_filename, max_interval=STOP_WITHIN)
        self.thread = threading.Thread(target=self._run, name="Beat", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.service.start()
        except BaseException:
            log.exception("beat thread failed")
        if not self.stopping.is_set():
            log.error("beat stopped while the worker runs; exiting so that `envelope serve` restarts both")
            logging.shutdown()
            os._exit(BEAT_DIED)

    def stop(self, worker) -> None:
        self.stopping.set()
        if self.service is not None:
            self.service.stop(wait=self.thread is not None and self.thread.is_alive())

    shutdown = stop


def install(app: Celery) -> None:
    """Add `celery worker --embedded-beat` (off unless given)."""
    app.user_options["worker"].add(
        click.Option([OPTION], is_flag=True, default=False,
                     help="Run beat on a thread of this worker (envelope serve, embedded broker only).")
    )
    app.steps["worker"].add(EmbeddedBeat)
