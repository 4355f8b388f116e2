"""Projects, releases and the files that make them up."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from envelope.db import Base
from envelope.models.accounts import Organization
from envelope.models.base import UTCDateTime, utcnow


# A filename key is at most a few characters longer than the (255-byte) filename:
# canonical versions spell 'c' as 'rc', '-1' as '.post1' and so on.
FILENAME_KEY_LENGTH = 300


class FileSource(str, enum.Enum):
    upload = "upload"
    github = "github"
    import_ = "import"


class ProjectStatus(enum.StrEnum):
    """PEP 792 project status markers: what the index does with a project.

    active: the default. archived: no new uploads, existing files served.
    quarantined: no uploads and no files offered at all (pages list none,
    file URLs answer 404). deprecated: informational, like active."""

    active = "active"
    archived = "archived"
    quarantined = "quarantined"
    deprecated = "deprecated"

    @property
    def accepts_uploads(self) -> bool:
        return self in (ProjectStatus.active, ProjectStatus.deprecated)

    @property
    def offers_files(self) -> bool:
        return self is not ProjectStatus.quarantined


MAX_STATUS_REASON = 500  # characters, like a yank reason


class ReadmeStatus(str, enum.Enum):
    """Where a release's rendered README stands (envelope.packaging.readme).

    A release from before this column existed has no status (NULL): the
    reconciler queues it like a pending one."""

    none = "none"  # no description to show
    pending = "pending"  # queued for the worker
    rendering = "rendering"  # a worker has claimed it
    rendered = "rendered"  # description_html is readme_renderer's sanitised HTML
    too_large = "too_large"  # above the render limit: escaped plain text, truncated
    failed = "failed"  # the renderer broke or ran out of time: escaped plain text, truncated


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("organization_id", "normalized_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200))
    # Bumped on every change to the project's files: the detail page's ETag.
    serial: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # PEP 792; changed only through envelope.packaging.project_status, which bumps the serial.
    status: Mapped[ProjectStatus] = mapped_column(
        Enum(ProjectStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=ProjectStatus.active, server_default=ProjectStatus.active.value,
    )
    status_reason: Mapped[str | None] = mapped_column(String(MAX_STATUS_REASON))

    organization: Mapped[Organization] = relationship()
    releases: Mapped[list["Release"]] = relationship(back_populates="project")


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("project_id", "canonical_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(100))
    canonical_version: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(String(512))
    requires_python: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    description_content_type: Mapped[str | None] = mapped_column(String(200))
    # Rendered once (at publish time or by the worker), never by a page view.
    description_html: Mapped[str | None] = mapped_column(Text)
    readme_status: Mapped[ReadmeStatus | None] = mapped_column(
        Enum(ReadmeStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    readme_queued: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when last queued or claimed
    # Whether the GitHub release its files came from is immutable (GitHub's
    # `immutable`); None: not from GitHub, or GitHub did not say.
    github_immutable: Mapped[bool | None] = mapped_column(Boolean)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="releases")
    files: Mapped[list["File"]] = relationship(back_populates="release")


class File(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("project_id", "filename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), index=True)
    # envelope.names.filename_key: the file's identity in any spelling of its
    # filename; immutability compares this, not the filename.
    filename_key: Mapped[str] = mapped_column(String(FILENAME_KEY_LENGTH), index=True)
    packagetype: Mapped[str] = mapped_column(String(16))  # bdist_wheel | sdist
    python_version: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    blake2b_256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))
    requires_python: Mapped[str | None] = mapped_column(String(200))
    metadata_sha256: Mapped[str] = mapped_column(String(64))
    metadata_size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(512))
    upload_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[FileSource] = mapped_column(
        Enum(FileSource, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    uploaded_by: Mapped[str] = mapped_column(String(200))

    release: Mapped[Release] = relationship(back_populates="files")
    project: Mapped[Project] = relationship()

    @property
    def metadata_key(self) -> str:
        return metadata_key(self.storage_key)


def metadata_key(storage_key: str) -> str:
    """Where a wheel's PEP 658 metadata is stored: next to the wheel."""
    return storage_key + ".metadata"


class FileProvenance(Base):
    """A file's PEP 740 provenance object, as served by the integrity endpoint.

    Written once, in the transaction that publishes the file, from the
    attestations its upload carried and Envelope verified
    (envelope.packaging.attestations); like the file's bytes it never changes
    afterwards. A separate table keeps the hot rows of `files` small: most
    files have none."""

    __tablename__ = "file_provenances"

    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    provenance: Mapped[str] = mapped_column(Text)  # the JSON document, exactly as served
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeletedFilename(Base):
    """A filename once deleted is never reused: pip caches by filename, and a
    mirror that saw the old bytes must never be handed different ones."""

    __tablename__ = "deleted_filenames"
    __table_args__ = (UniqueConstraint("organization_id", "filename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    # Burned in every spelling: a new upload is refused when its key matches.
    filename_key: Mapped[str] = mapped_column(String(FILENAME_KEY_LENGTH), index=True)
    deleted: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
