"""What the upstream proxy remembers: the pages it fetched and the objects it
stored, each for one organization.

An organization's upstream may be private (credentials in its URL), so what
it fetched is never served to another organization, even one that names the
same upstream URL: the other organization fetches its own copy, with its own
credentials, and the upstream decides. Stored bytes are content-addressed and
verified by sha256, so two organizations' rows may share one storage key."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from envelope.db import Base
from envelope.models.base import UTCDateTime, utcnow


class UpstreamPage(Base):
    """One project page of one organization's upstream index, as last fetched.

    `files` holds the usable entries in Envelope's own shape, `project_meta`
    the page's project-level keys; `digest` changes whenever either does, so it serves as the page's serial for ETags and caches."""

    __tablename__ = "upstream_pages"
    __table_args__ = (UniqueConstraint("organization_id", "upstream_url", "normalized_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    upstream_url: Mapped[str] = mapped_column(String(500))
    normalized_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)  # 200, or 404 when upstream has no such project
    files: Mapped[list[dict]] = mapped_column(JSON, default=list)
    # What the page says of the project as a whole (envelope.upstream.contents.project_meta):
    # PEP 708 tracks and alternate-locations, PEP 792 status. NULL on rows from before 0014.
    project_meta: Mapped[dict | None] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a request last asked the worker to refresh this page (it was stale):
    # later than `fetched` and recent, a refresh is under way and none is asked again.
    refresh_requested: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The files' distinct upload times (epoch seconds, sorted), so the minimum
    # age can be judged without reading `files`; NULL on rows from before 0019.
    upload_times: Mapped[list[int] | None] = mapped_column(JSON)
    # Versions the minimum age held back at the last fetch: {version: offered-from, ISO 8601}.
    held: Mapped[dict | None] = mapped_column(JSON)


class UpstreamObject(Base):
    """A distribution or `.metadata` file fetched from upstream, verified
    against the hash the upstream page gave, and kept in storage. A row exists
    only once its bytes are fully stored, and says that this organization's
    own upstream served them."""

    __tablename__ = "upstream_objects"
    __table_args__ = (
        UniqueConstraint("organization_id", "sha256", "filename"),
        Index("ix_upstream_objects_last_used", "organization_id", "last_used"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300))
    storage_key: Mapped[str] = mapped_column(String(500), index=True)  # the collector asks who refers to a key
    size: Mapped[int] = mapped_column(BigInteger)
    cached: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a request last asked for it, to within USE_RESOLUTION
    # (envelope.upstream.files): the cache budget evicts the least recently used.
    last_used: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
