"""PEP 740's integrity endpoint as data: a file's provenance object, for
callers who may read the file.

`GET /{org}/integrity/{project}/{version}/{filename}/provenance` answers
exactly like the file's own URL would about access: a project or version
the caller may not read, a file that does not exist and a file without
attestations all answer NotFound, so the endpoint confirms no private name.
"""
from __future__ import annotations

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.errors import InvalidInput, NotFound
from envelope.models import File, FileProvenance, Project, Release
from envelope.names import normalize
from envelope.orgs.identity import Caller

INTEGRITY_CONTENT_TYPE = "application/vnd.pypi.integrity.v1+json"


def provenance_document(
    session: Session, organization_id: int, principal: Caller, project: str, version: str, filename: str
) -> str:
    """The stored provenance JSON of `filename`, a file of `project` (any
    spelling) at `version` (any spelling of the same version). Raises
    NotFound whenever the caller may not have it, for whatever reason."""
    try:
        normalized = normalize(project)
        wanted = Version(version)
    except (InvalidInput, InvalidVersion):
        raise NotFound("Not Found") from None
    if not principal.may_read_project(normalized):
        raise NotFound("Not Found")
    row = session.execute(
        select(Release.version, FileProvenance.provenance)
        .select_from(File)
        .join(Project, File.project_id == Project.id)
        .join(Release, File.release_id == Release.id)
        .outerjoin(FileProvenance, FileProvenance.file_id == File.id)
        .where(
            Project.organization_id == organization_id,
            Project.normalized_name == normalized,
            File.filename == filename,
        )
    ).first()
    if row is None or Version(row.version) != wanted or row.provenance is None:
        raise NotFound("Not Found")
    if not principal.may_read_version(normalized, row.version):
        raise NotFound("Not Found")
    return row.provenance
