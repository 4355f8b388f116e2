"""Yank, unyank and delete as members and tokens do them: envelope.releases
plus who may. Maintainers yank; only owners delete, and only after typing
the version to confirm."""
from __future__ import annotations

from packaging.version import InvalidVersion
from sqlalchemy.orm import Session

from envelope.capabilities import Capability
from envelope.errors import InvalidInput, NotFound
from envelope.membership import OrgAccess
from envelope.models import File, Role
from envelope.names import canonical_version, normalize
from envelope.releases import delete_files, set_yanked


def _check_visible(access: OrgAccess, project: str, version: str) -> None:
    """A restricted token acts only on what it can see; the rest is NotFound."""
    try:
        name = normalize(project)
    except InvalidInput:
        raise NotFound(f"No project {project!r}.") from None
    try:
        visible = access.principal.may_read_version(name, version)
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
    """Yank (PEP 592) or unyank a release or one of its files; maintainers and owners."""
    access.require(Capability.YANK, "yank or unyank releases")
    _check_visible(access, project, version)
    return set_yanked(
        session, access.organization, project, version,
        yanked=yanked, reason=(reason or "").strip() or None, filename=filename or None, actor=access.actor,
    )


def confirmed(version: str, typed: str | None) -> bool:
    """True when `typed` is the version (in any equivalent spelling)."""
    typed = (typed or "").strip()
    if not typed:
        return False
    return typed == version or canonical_version(typed) == canonical_version(version)


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
    owners only, and `confirm` must repeat the version."""
    access.require(Capability.DELETE, "delete releases or files")
    _check_visible(access, project, version)
    if not confirmed(version, confirm):
        raise InvalidInput(f"To delete, type the version {version} to confirm.")
    return delete_files(session, access.organization, project, version, filename=filename or None, actor=access.actor)
