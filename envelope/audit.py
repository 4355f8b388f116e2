"""The audit log: one row per change, written inside the change's transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.models import AuditEvent

MAX_PAGE = 100_000  # keeps OFFSET within every backend's integer range


def record_event(
    session: Session,
    organization_id: int | None,
    actor: str,
    action: str,
    subject: str,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            organization_id=organization_id,
            actor=actor,
            action=action,
            subject=subject,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )


def list_events(
    session: Session, organization_id: int, *, page: int = 1, per_page: int = 50
) -> tuple[list[AuditEvent], bool]:
    """One page of an organization's log, newest first, and whether an older page exists."""
    page = min(max(page, 1), MAX_PAGE)
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organization_id == organization_id)
        .order_by(AuditEvent.created.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page
