"""Trusted publishing: the CI identities an organization trusts, and the
OIDC tokens already exchanged (so none is exchanged twice)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from envelope.db import Base
from envelope.models.accounts import Organization
from envelope.models.base import UTCDateTime, utcnow


class TrustedPublisher(Base):
    """A GitHub Actions workflow that may exchange its OIDC token for a
    15-minute access token of this organization. Repository and environment
    are kept lowercased (GitHub compares both case-insensitively); the
    workflow file name as written (a file name on GitHub is case-sensitive)."""

    __tablename__ = "trusted_publishers"
    __table_args__ = (UniqueConstraint("organization_id", "repository", "workflow", "environment", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(200), index=True)  # owner/repo, lowercased
    workflow: Mapped[str] = mapped_column(String(255))  # release.yml: a file in .github/workflows/
    environment: Mapped[str] = mapped_column(String(255), default="")  # "" means any environment
    scope: Mapped[str] = mapped_column(String(16))  # a TokenScope
    projects: Mapped[list[str]] = mapped_column(JSON, default=list)  # normalized names; empty: any
    # GitHub's numeric ids of the repository and its owner, pinned by the
    # first exchange: a repository deleted and re-created under the same
    # name by someone else no longer matches.
    repository_id: Mapped[str | None] = mapped_column(String(32))
    repository_owner_id: Mapped[str | None] = mapped_column(String(32))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()


class OidcTokenUse(Base):
    """One row per OIDC token exchanged, by its issuer and `jti`: the unique
    key refuses a replay, across processes and nodes, even when two requests
    race. Rows outlive the token's own expiry only briefly (then the token
    is refused for its age anyway) and are deleted then."""

    __tablename__ = "oidc_token_uses"
    __table_args__ = (UniqueConstraint("issuer", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    jti: Mapped[str] = mapped_column(String(255))
    expires: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
