"""Changes to what is already published: yank, unyank, delete, with who may.

Files are never modified, only hidden (yank, PEP 592) or removed (delete,
after which the filename is burned). Maintainers yank; only owners delete,
and only after typing the version (or file name) exactly as shown. Every face (pages, API, CLI)
calls change_yank and delete with its caller."""
from __future__ import annotations

from packaging.version import InvalidVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.orgs.capabilities import Capability
from envelope.errors import InvalidInput, NotFound
from envelope.lifecycle.collector import mark_unreferenced
from envelope.orgs.membership import OrgAccess
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


def _check_visible(access: OrgAccess, project: str, version: str) -> None:
    """A restricted token acts only on what it can see; the rest is NotFound."""
    try:
        name = normalize(project)
    except InvalidInput:
        raise NotFound(f"No project {project!r}.") from None
    try:
        visible = access.caller.may_read_version(name, version)
    except InvalidVersion:
        visible = False
    if not visible:
        raise NotFound(f"No release {version!r} of {project}.")


def change_yank(
    session: Session,
    access: OrgAccess,
    project: str,
    version: str,
    *,
    yanked: bool,
    reason: str | None = None,
    filename: str | None = None,
) -> list[File]:
    """Yank (PEP 592) or unyank a release's files (or one file): the one way,
    for the pages, the API and `envelope yank`/`unyank`. Maintainers, owners,
    upload tokens and the operator; idempotent. A blank reason is none."""
    access.require(Capability.YANK, "yank or unyank releases")
    _check_visible(access, project, version)
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The reason may be at most {MAX_REASON_LENGTH} characters.")
    organization = access.organization
    found, files = select_files(session, organization, project, version, filename or None)
    for file in files:
        file.yanked = yanked
        file.yanked_reason = reason if yanked else None
    found.serial += 1
    record_event(
        session,
        organization.id,
        access.actor,
        AuditAction.file_yank if yanked else AuditAction.file_unyank,
        f"{found.name} {version}",
        files=[f.filename for f in files],
        reason=reason,
    )
    return files


def confirmed(expected: str, typed: str | None) -> bool:
    """True only when `typed` is exactly the text shown (surrounding spaces
    aside). Not PEP 440 equality: `3` equals `3.0.0` as a version, but a
    deletion burns filenames for good, so the owner must type what they see."""
    return (typed or "").strip() == expected


def delete(
    session: Session,
    access: OrgAccess,
    project: str,
    version: str,
    *,
    confirm: str | None,
    filename: str | None = None,
) -> list[str]:
    """Delete a release's files (or one file) for good, burning the filenames;
    owners only. `confirm` must repeat, exactly, the release's version as
    published (e.g. `3.0.0`, not `3`), or the file's name when one is deleted."""
    access.require(Capability.DELETE, "delete releases or files")
    _check_visible(access, project, version)
    _, files = select_files(session, access.organization, project, version, filename or None)
    if filename:
        expected, what = files[0].filename, "file name"
    else:
        expected, what = session.get(Release, files[0].release_id).version, "version"
    if not confirmed(expected, confirm):
        raise InvalidInput(f"To delete, type the {what} {expected} exactly as shown.")
    return delete_files(session, access.organization, project, version, filename=filename or None, actor=access.actor)


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

    Blobs stay in storage for now: keys are content-addressed and may be
    shared, so each key is marked for the collector, which removes the blob
    later only if no file refers to it then (envelope/lifecycle/collector.py)."""
    project, files = select_files(session, organization, name, version, filename)
    names = [file.filename for file in files]
    mark_unreferenced(session, [file.storage_key for file in files])
    for file in files:
        session.add(DeletedFilename(organization_id=organization.id, filename=file.filename,
                                    filename_key=file.filename_key))
        session.delete(file)
    project.serial += 1
    session.flush()
    record_event(session, organization.id, actor, AuditAction.file_delete, f"{project.name} {version}", files=names)
    return names
