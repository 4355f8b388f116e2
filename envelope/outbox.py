"""The transactional outbox: work is recorded as rows in the transaction that
creates it, and a relay on the worker side hands due rows to the broker.

Neither the web process nor a webhook ever waits for the broker, so a broker
outage delays work and loses none. `send` is whatever publishes a task (the
Celery app's send_task); it is passed in so this module knows nothing of Celery.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.db import Database
from envelope.models import OutboxMessage
from envelope.models.base import utcnow

log = logging.getLogger(__name__)
BATCH = 100  # rows per relay pass


def enqueue(session: Session, task: str, *, delay: float = 0, **kwargs: Any) -> OutboxMessage:
    """Record a task to run once this transaction commits (after `delay` seconds)."""
    message = OutboxMessage(task=task, kwargs=kwargs, not_before=utcnow() + timedelta(seconds=delay))
    session.add(message)
    return message


def relay_due(db: Database, send: Callable[[str, dict[str, Any]], None], now: datetime | None = None) -> int:
    """Send due rows; returns how many were sent. A row whose send fails stays
    unsent, keeps its error, and is tried again on the next pass."""
    now = now or utcnow()
    sent = 0
    with db.write() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.sent.is_(None), OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.attempts += 1
            try:
                send(row.task, row.kwargs)
            except Exception as exc:  # the broker's errors are many and all mean "later"
                row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                log.warning("outbox: could not send %s #%d: %s", row.task, row.id, row.last_error)
                break  # the broker is down: the rest would fail the same way
            row.sent = utcnow()
            row.last_error = None
            sent += 1
    return sent


def pending_count(session: Session) -> int:
    return len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.sent.is_(None))).all())
