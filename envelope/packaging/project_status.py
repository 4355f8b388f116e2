"""PEP 792 project status: the one way to change it, and what it forbids.

A status is the project's, not a release's: `archived` stops uploads and keeps
every file installable; `quarantined` stops uploads and offers no file at all
(the simple pages and the JSON API list none, file URLs answer 404, exactly as
for a file that does not exist); `deprecated` only informs. Maintainers and
owners change it, from the project page or `envelope project status`; tokens
never do: a leaked CI token must not be able to lift a quarantine.

Changing it bumps the project's serial, so every cached page and ETag of the
project moves with it.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.errors import Forbidden, InvalidInput, NotFound
from envelope.models import Project, ProjectStatus
from envelope.models.packaging import MAX_STATUS_REASON
from envelope.names import NormalizedName
from envelope.orgs.capabilities import Capability
from envelope.orgs.membership import OrgAccess
from envelope.packaging.releases import find_project


def parse_status(text: str) -> ProjectStatus:
    """'Archived ' -> ProjectStatus.archived; InvalidInput naming the four otherwise."""
    try:
        return ProjectStatus(text.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in ProjectStatus)
        raise InvalidInput(f"Unknown project status {text!r}: use one of {choices}.") from None


def change_status(
    session: Session, access: OrgAccess, project: str, status: ProjectStatus | str, *, reason: str | None = None
) -> Project:
    """Set a project's PEP 792 status and reason: the one way, for the
    project page and the CLI. Maintainers, owners and the operator; a blank
    reason is none, and `active` keeps none. Recorded in the audit log even
    when nothing changes (who asked, and what, is the point). Raises
    Forbidden, NotFound (no such project, or one the caller may not read),
    InvalidInput (an unknown status, a reason over MAX_STATUS_REASON)."""
    access.require(Capability.SET_STATUS, "change a project's status")
    wanted = status if isinstance(status, ProjectStatus) else parse_status(status)
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_STATUS_REASON:
        raise InvalidInput(f"The reason may be at most {MAX_STATUS_REASON} characters.")
    if wanted is ProjectStatus.active:
        reason = None
    found = find_project(session, access.organization, project)
    if not access.caller.may_read_project(found.normalized_name):  # as missing as a missing one
        raise NotFound(f"No project {project!r} in {access.organization.name!r}.")
    previous = found.status
    found.status, found.status_reason = wanted, reason
    found.serial += 1
    record_event(session, access.organization.id, access.actor, AuditAction.project_status, found.name,
                 status=wanted.value, previous=ProjectStatus(previous).value, reason=reason)
    return found


def refusal(name: str, status: ProjectStatus, reason: str | None) -> str:
    """The sentence an upload to a project that takes none is refused with
    (twine and uv show it from the status line)."""
    why = f" ({reason})" if reason else ""
    return (
        f"Project {name!r} is {status.value}{why}: it accepts no new uploads. "
        "A maintainer can set its status back to active (PEP 792)."
    )


def refuse_closed_upload(session: Session, organization_id: int, name: NormalizedName) -> None:
    """Forbidden when the project exists and its status takes no uploads
    (archived, quarantined); a new project is always active."""
    row = session.execute(
        select(Project.name, Project.status, Project.status_reason)
        .where(Project.organization_id == organization_id, Project.normalized_name == name)
    ).first()
    if row is not None:
        check_accepts_uploads(row.name, ProjectStatus(row.status), row.status_reason)


def check_accepts_uploads(name: str, status: ProjectStatus, reason: str | None) -> None:
    if not status.accepts_uploads:
        raise Forbidden(refusal(name, status, reason))
