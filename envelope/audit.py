"""The audit log: one row per change, written inside the change's transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from envelope.models import AuditEvent


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
