"""Changes to what is already published: yank, unyank, delete.

Files are never modified, only hidden (yank, PEP 592) or removed (delete,
after which the filename is burned)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.errors import InvalidInput, NotFound
from envelope.models import DeletedFilename, File, Organization, Project, Release
from envelope.names import canonical_version, normalize

MAX_REASON_LENGTH = 500


def find_project(session: Session, organization: Organization, name: str) -> Project:
    project = session.scalar(
        select(Project).where(
            Project.organization_id == organization.id, Project.normalized_name == normalize(name)
        )
    )
    if project is None:
        raise NotFound(f"No project {name!r} in {organization.name!r}.")
    return project


def select_files(
    session: Session, organization: Organization, name: str, version: str, filename: str | None
) -> tuple[Project, list[File]]:
    """The files of name==version (or the one named); NotFound if there are none."""
    project = find_project(session, organization, name)
    query = (
        select(File)
        .join(Release, File.release_id == Release.id)
        .where(Release.project_id == project.id, Release.canonical_version == canonical_version(version))
        .order_by(File.filename)
    )
    if filename:
        query = query.where(File.filename == filename)
    files = list(session.scalars(query))
    if not files:
        what = f"file {filename!r}" if filename else "files"
        raise NotFound(f"No {what} for {project.name} {version} in {organization.name!r}.")
    return project, files


def set_yanked(
    session: Session,
    organization: Organization,
    name: str,
    version: str,
    *,
    yanked: bool,
    reason: str | None = None,
    filename: str | None = None,
    actor: str,
) -> list[File]:
    """Yank or unyank a release's files (or one file). Idempotent."""
    if reason and len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The reason may be at most {MAX_REASON_LENGTH} characters.")
    project, files = select_files(session, organization, name, version, filename)
    for file in files:
        file.yanked = yanked
        file.yanked_reason = (reason or None) if yanked else None
    project.serial += 1
    record_event(
        session,
        organization.id,
        actor,
        AuditAction.file_yank if yanked else AuditAction.file_unyank,
        f"{project.name} {version}",
        files=[f.filename for f in files],
        reason=reason or None,
    )
    return files


def delete_files(
    session: Session,
    organization: Organization,
    name: str,
    version: str,
    *,
    filename: str | None = None,
    actor: str,
) -> list[str]:
    """Remove files from the index for good and burn their filenames.

    Blobs stay in storage: keys are content-addressed and may be shared, and
    an orphaned blob is harmless while a missing one breaks a download."""
    project, files = select_files(session, organization, name, version, filename)
    names = [file.filename for file in files]
    for file in files:
        session.add(DeletedFilename(organization_id=organization.id, filename=file.filename,
                                    filename_key=file.filename_key))
        session.delete(file)
    project.serial += 1
    session.flush()
    record_event(session, organization.id, actor, AuditAction.file_delete, f"{project.name} {version}", files=names)
    return names
