"""Outgoing email, recorded in the transaction that decides to send it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base
from envelope.models.base import UTCDateTime, utcnow


class MailMessage(Base):
    """One message to send. The worker's send task marks it `sent`, so a task
    that runs again (a retry, a redelivery) sends nothing twice. The body
    carries live reset/sign-in links, so it is sealed with ENVELOPE_SECRET_KEY:
    a copy of the database alone reveals none of them."""

    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body_sealed: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
