"""Which stored object a file URL names, if the caller may have it."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, select

from envelope.orgs.identity import Caller
from envelope.errors import NotFound
from envelope.storage.media_types import METADATA_SUFFIX, content_type
from envelope.models import File, Organization, Project, ProjectStatus, Release
from envelope.models.packaging import metadata_key


@dataclass(frozen=True)
class Download:
    key: str
    size: int
    etag: str
    content_type: str
    download_name: str
    modified: datetime | None = None  # Last-Modified: when the bytes entered Envelope
    file_id: int | None = None  # a private distribution file (counted as a download); not metadata or upstream


_files, _projects, _releases = File.__table__, Project.__table__, Release.__table__
_organizations = Organization.__table__
_named_files = (
    select(_files.c.id.label("file_id"), _files.c.sha256, _files.c.packagetype, _files.c.storage_key, _files.c.size,
           _files.c.metadata_sha256, _files.c.metadata_size, _files.c.upload_time,
           _projects.c.normalized_name, _projects.c.status.label("project_status"), _releases.c.version,
           _projects.c.organization_id)
    .join(_projects, _files.c.project_id == _projects.c.id)
    .join(_releases, _files.c.release_id == _releases.c.id)
    .where(_files.c.filename == bindparam("filename"))
    .subquery()
)
# Built once: every download runs it, so it skips the ORM and statement
# construction. It reads the organization's auth epoch too (one round trip
# confirms the caller and finds the file); file columns are NULL when there is none.
_FILE_BY_NAME = (
    select(_organizations.c.auth_epoch, *[c for c in _named_files.c if c.name != "organization_id"])
    .select_from(_organizations.outerjoin(_named_files, _named_files.c.organization_id == _organizations.c.id))
    .where(_organizations.c.id == bindparam("organization_id"))
)


@dataclass(frozen=True)
class FileLookup:
    auth_epoch: int
    row: Row | None  # None: no file of that name in the organization


def lookup_file(connection: Connection, organization_id: int, filename: str) -> FileLookup:
    """The organization's auth epoch and the file named by a /files/ URL
    (its .metadata suffix ignored), whoever may read it."""
    dist_name = filename[: -len(METADATA_SUFFIX)] if filename.endswith(METADATA_SUFFIX) else filename
    row = connection.execute(_FILE_BY_NAME, {"organization_id": organization_id, "filename": dist_name}).first()
    if row is None:
        raise NotFound("Not Found")
    return FileLookup(row.auth_epoch, row if row.sha256 is not None else None)


def download_for(lookup: FileLookup, principal: Caller, sha256: str, filename: str) -> Download:
    """The object behind /files/{sha256}/{filename}[.metadata]; NotFound when
    it does not exist or the caller may not read that project or version."""
    row = lookup.row
    if row is None:
        raise NotFound("Not Found")
    if not hmac.compare_digest(row.sha256, sha256) or not principal.may_read_version(row.normalized_name, row.version):
        raise NotFound("Not Found")
    if not ProjectStatus(row.project_status).offers_files:  # PEP 792 quarantine: as if it did not exist
        raise NotFound("Not Found")
    wants_metadata = filename.endswith(METADATA_SUFFIX)
    dist_name = filename[: -len(METADATA_SUFFIX)] if wants_metadata else filename
    if wants_metadata:
        if row.packagetype != "bdist_wheel":
            raise NotFound("Not Found")
        return Download(
            metadata_key(row.storage_key), row.metadata_size, row.metadata_sha256, content_type(filename), filename,
            row.upload_time,
        )
    return Download(row.storage_key, row.size, row.sha256, content_type(dist_name), dist_name, row.upload_time,
                    row.file_id)


def find_download(
    connection: Connection, organization_id: int, principal: Caller, sha256: str, filename: str
) -> Download:
    """lookup_file then download_for, for callers already confirmed."""
    return download_for(lookup_file(connection, organization_id, filename), principal, sha256, filename)
