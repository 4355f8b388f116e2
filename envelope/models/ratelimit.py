"""Rate-limit counters shared by every web process and node (envelope/ratelimit.py)."""
from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base


class RateLimitCounter(Base):
    """One fixed window of one limit: how many hits it has had, and when it ends."""

    __tablename__ = "rate_limit_counters"

    # SHA-256 (hex) of the limits key: keys carry usernames of any length.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # Unix time, seconds
