"""Download counts: per file, day and credential, summed off the request path."""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base


class DownloadCount(Base):
    """How often one credential downloaded one file on one day (UTC).

    token_id and user_id are 0 when absent (a password has no token, a
    deploy token no user): part of the primary key, so an upsert merges
    them, which NULLs would not. No foreign key to tokens: a revoked or
    deleted token's downloads still count. A deleted file takes its rows."""

    __tablename__ = "download_counts"

    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_download_counts_day", "day"),)
