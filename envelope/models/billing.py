"""Stripe billing of a hosted instance: each organization's customer and
subscription as Stripe last told it, and every Stripe event received."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base
from envelope.models.base import UTCDateTime, utcnow


class BillingAccount(Base):
    """One organization's Stripe customer and its current subscription.

    `past_due_since` is when Stripe first reported the subscription unpaid:
    the grace period runs from it, and it clears when a payment succeeds."""

    __tablename__ = "billing_accounts"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(100), unique=True)
    subscription_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(30))  # Stripe's subscription status
    price_id: Mapped[str | None] = mapped_column(String(100))
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """Every verified Stripe event, keyed by Stripe's event id: recorded in the
    transaction that acts on it, so a redelivered or replayed event finds its
    row and changes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # evt_…
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's epoch seconds
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(40))
    received: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
