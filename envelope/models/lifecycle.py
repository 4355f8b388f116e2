"""Retention policies and the blob collector's candidates (docs/lifecycle.md)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base
from envelope.models.base import UTCDateTime, utcnow


class RetentionPolicy(Base):
    """What an organization (project_id NULL) or one project keeps.

    A project's row replaces the organization's whole policy for that
    project. keep_prereleases: how many of the newest development and
    pre-releases stay (NULL: no count limit); max_age_days: such releases
    older than this go (NULL: no age limit). Final releases are never touched
    by retention; include_downloaded lets a release downloaded in the last 30
    days go too (the owner said so)."""

    __tablename__ = "retention_policies"
    __table_args__ = (UniqueConstraint("organization_id", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    keep_prereleases: Mapped[int | None] = mapped_column(Integer)
    max_age_days: Mapped[int | None] = mapped_column(Integer)
    include_downloaded: Mapped[bool] = mapped_column(Boolean, default=False)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BlobCandidate(Base):
    """A storage key that may have lost its last reference (its file was
    deleted). The collector removes the blob only once the row is older than
    the grace period and, in the transaction that locks this row, no file
    refers to the key; publish_file deletes the row in the transaction that
    records a file with this key (taking the same lock), then makes sure the
    blob is there. See envelope/lifecycle/collector.py."""

    __tablename__ = "blob_candidates"

    storage_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    marked: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
