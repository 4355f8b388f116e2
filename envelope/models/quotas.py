"""Quotas an administrator sets per organization, and index requests counted per month."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base


class Plan(Base):
    """A named set of limits an administrator defines once ("team": 10 GB, 100 GB
    a month, 20 members); organizations on it follow it, so changing the plan
    changes them all. NULL: no limit of that kind."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    download_bytes: Mapped[int | None] = mapped_column(BigInteger)
    members: Mapped[int | None] = mapped_column(Integer)
    # Billing (envelope.billing): the Stripe price that pays for this plan, and
    # whether this is the plan organizations are on without a subscription
    # (new ones, and those whose subscription ended or went unpaid).
    stripe_price: Mapped[str | None] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class OrgQuota(Base):
    """Limits of one organization: its plan's when plan_id is set, else its own
    (NULL: no limit of that kind). No row: no limits at all.

    `warned` maps a kind ("storage", "downloads", "members") to the month
    ("2026-12") its 80 % warning was last mailed, so owners get one email per
    kind and month."""

    __tablename__ = "org_quotas"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    download_bytes: Mapped[int | None] = mapped_column(BigInteger)  # per calendar month, UTC
    members: Mapped[int | None] = mapped_column(Integer)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    warned: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class RequestCount(Base):
    """Index page requests (simple, JSON) of one organization in one month ("2026-12"),
    summed off the request path like download counts (envelope.usage)."""

    __tablename__ = "request_counts"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
