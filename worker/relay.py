"""The outbox relay: a thread in each worker's main process that hands due
outbox rows to the broker. It survives broker outages by leaving rows unsent
and trying again; the rows are in the database, so nothing is lost."""
from __future__ import annotations

import logging
import threading

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from envelope.outbox import relay_due
from worker.tasks import runtime

log = logging.getLogger(__name__)
IDLE_WAIT = 0.2  # seconds between passes when there is nothing to send
ERROR_WAIT = 2.0  # seconds after a failed pass (broker or database down)
_stop = threading.Event()


def _loop(app: Celery) -> None:
    def send(task: str, kwargs: dict) -> None:
        app.send_task(task, kwargs=kwargs, retry=False)

    while not _stop.is_set():
        try:
            sent = relay_due(runtime().db, send)
        except Exception:  # keep relaying whatever broke this pass
            log.exception("outbox relay pass failed")
            _stop.wait(ERROR_WAIT)
            continue
        if not sent:
            _stop.wait(IDLE_WAIT)


@worker_ready.connect
def start_relay(sender, **_kwargs) -> None:
    threading.Thread(target=_loop, args=(sender.app,), name="outbox-relay", daemon=True).start()


@worker_shutdown.connect
def stop_relay(**_kwargs) -> None:
    _stop.set()
