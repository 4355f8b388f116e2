"""Last-seen times of background services, so /healthz can tell whether the
worker pipeline (beat -> broker -> worker) is moving."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.models import ServiceHeartbeat
from envelope.models.base import utcnow


def record_heartbeat(session: Session, service: str) -> None:
    row = session.get(ServiceHeartbeat, service)
    if row is None:
        session.add(ServiceHeartbeat(service=service, last_seen=utcnow()))
    else:
        row.last_seen = utcnow()


def last_heartbeat(session: Session, service: str) -> datetime | None:
    return session.scalar(select(ServiceHeartbeat.last_seen).where(ServiceHeartbeat.service == service))
