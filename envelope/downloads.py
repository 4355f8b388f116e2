"""Which stored object a file URL names, if the caller may have it."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from envelope.access import Principal
from envelope.errors import NotFound
from envelope.media_types import METADATA_SUFFIX, content_type
from envelope.models import File, Organization, Project, Release
from envelope.models.packaging import metadata_key


@dataclass(frozen=True)
class Download:
    key: str
    size: int
    etag: str
    content_type: str
    download_name: str


_files, _projects, _releases = File.__table__, Project.__table__, Release.__table__
# Built once: every download runs it, so it skips the ORM and statement construction.
_FILE_BY_NAME = (
    select(_files.c.sha256, _files.c.packagetype, _files.c.storage_key, _files.c.size,
           _files.c.metadata_sha256, _files.c.metadata_size, _projects.c.normalized_name, _releases.c.version)
    .join(_projects, _files.c.project_id == _projects.c.id)
    .join(_releases, _files.c.release_id == _releases.c.id)
    .where(_projects.c.organization_id == bindparam("organization_id"), _files.c.filename == bindparam("filename"))
)


def find_download(
    connection: Connection, organization: Organization, principal: Principal, sha256: str, filename: str
) -> Download:
    """The object behind /files/{sha256}/{filename}[.metadata]; NotFound when
    it does not exist or the caller may not read that project or version."""
    wants_metadata = filename.endswith(METADATA_SUFFIX)
    dist_name = filename[: -len(METADATA_SUFFIX)] if wants_metadata else filename
    row = connection.execute(
        _FILE_BY_NAME, {"organization_id": organization.id, "filename": dist_name}
    ).first()
    if row is None:
        raise NotFound("Not Found")
    if not hmac.compare_digest(row.sha256, sha256) or not principal.may_read_version(row.normalized_name, row.version):
        raise NotFound("Not Found")
    if wants_metadata:
        if row.packagetype != "bdist_wheel":
            raise NotFound("Not Found")
        return Download(
            metadata_key(row.storage_key), row.metadata_size, row.metadata_sha256, content_type(filename), filename,
        )
    return Download(row.storage_key, row.size, row.sha256, content_type(dist_name), dist_name)
