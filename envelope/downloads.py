"""Which stored object a file URL names, if the caller may have it."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.access import Principal
from envelope.errors import NotFound
from envelope.media_types import CONTENT_TYPES, METADATA_SUFFIX, content_type  # noqa: F401  (re-exported)
from envelope.models import File, Organization, Project, Release


@dataclass(frozen=True)
class Download:
    key: str
    size: int
    etag: str
    content_type: str
    download_name: str


def find_download(
    session: Session, organization: Organization, principal: Principal, sha256: str, filename: str
) -> Download:
    """The object behind /files/{sha256}/{filename}[.metadata]; NotFound when
    it does not exist or the caller may not read that project or version."""
    wants_metadata = filename.endswith(METADATA_SUFFIX)
    dist_name = filename[: -len(METADATA_SUFFIX)] if wants_metadata else filename
    row = session.execute(
        select(File, Project.normalized_name, Release.version)
        .join(Project, File.project_id == Project.id)
        .join(Release, File.release_id == Release.id)
        .where(Project.organization_id == organization.id, File.filename == dist_name)
    ).first()
    if row is None:
        raise NotFound("Not Found")
    file, project, version = row
    if not hmac.compare_digest(file.sha256, sha256) or not principal.may_read_version(project, version):
        raise NotFound("Not Found")
    if wants_metadata:
        if file.packagetype != "bdist_wheel":
            raise NotFound("Not Found")
        return Download(
            file.metadata_key, file.metadata_size, file.metadata_sha256, content_type(filename), filename,
        )
    return Download(file.storage_key, file.size, file.sha256, content_type(dist_name), dist_name)
