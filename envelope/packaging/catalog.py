"""Projects and releases as people browse them (the web UI and JSON API).

Everything here honours the Caller, so a restricted token sees
exactly what the simple index would show it, and nothing more."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from packaging.version import InvalidVersion, Version
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from envelope.orgs.identity import Caller
from envelope.errors import InvalidInput, NotFound
from envelope.index.pages import visible_project
from envelope.models import File, Organization, Project, Release
from envelope.names import canonical_version


@dataclass(frozen=True)
class ReleaseView:
    release: Release
    files: tuple[File, ...]  # filename order

    @property
    def version(self) -> str:
        return self.release.version

    @property
    def parsed_version(self) -> Version:
        return Version(self.release.version)

    @property
    def yanked(self) -> bool:
        """A release is yanked when every one of its files is."""
        return all(file.yanked for file in self.files)

    @property
    def uploaded(self) -> datetime:
        return min(file.upload_time for file in self.files)


@dataclass(frozen=True)
class ProjectSummary:
    name: str
    normalized_name: str
    latest_version: str | None
    summary: str | None
    updated: datetime | None


def latest(releases: list[ReleaseView]) -> ReleaseView | None:
    """What pip would pick without a pin: the newest final release that is not
    yanked, else the newest non-yanked pre-release, else the newest of all."""
    for candidates in (
        [r for r in releases if not r.yanked and not r.parsed_version.is_prerelease],
        [r for r in releases if not r.yanked],
        releases,
    ):
        if candidates:
            return max(candidates, key=lambda r: r.parsed_version)
    return None


def _search_filter(query: str):
    text = query.strip().lower()
    # Normalised names use '-' for any run of '-', '_' and '.'.
    normalized = "-".join(part for part in text.replace("_", "-").replace(".", "-").split("-") if part)
    return or_(
        func.lower(Project.name).contains(text, autoescape=True),
        Project.normalized_name.contains(normalized or text, autoescape=True),
    )


def list_projects(
    session: Session, organization: Organization, principal: Caller, query: str | None = None
) -> list[ProjectSummary]:
    """The projects this caller may read, by name, each with its latest version."""
    statement = select(Project).where(Project.organization_id == organization.id)
    if query and query.strip():
        statement = statement.where(_search_filter(query))
    projects = [
        p for p in session.scalars(statement.order_by(Project.normalized_name))
        if principal.may_read_project(p.normalized_name)
    ]
    by_project = _releases_of(session, [p.id for p in projects], principal, projects)
    summaries = []
    for project in projects:
        releases = by_project.get(project.id, [])
        newest = latest(releases)
        summaries.append(
            ProjectSummary(
                name=project.name,
                normalized_name=project.normalized_name,
                latest_version=newest.version if newest else None,
                summary=newest.release.summary if newest else None,
                updated=max((f.upload_time for r in releases for f in r.files), default=None),
            )
        )
    return summaries


def _releases_of(
    session: Session, project_ids: list[int], principal: Caller, projects: list[Project]
) -> dict[int, list[ReleaseView]]:
    """Releases with at least one visible file, newest version first, per project id."""
    if not project_ids:
        return {}
    names = {p.id: p.normalized_name for p in projects}
    rows = session.execute(
        select(Release, File)
        .join(File, File.release_id == Release.id)
        .where(Release.project_id.in_(project_ids))
        .order_by(File.filename)
    ).all()
    files: dict[int, list[File]] = defaultdict(list)
    releases: dict[int, Release] = {}
    for release, file in rows:
        if principal.may_read_version(names[release.project_id], release.version):
            releases[release.id] = release
            files[release.id].append(file)
    out: dict[int, list[ReleaseView]] = defaultdict(list)
    for release_id, release in releases.items():
        out[release.project_id].append(ReleaseView(release, tuple(files[release_id])))
    for views in out.values():
        views.sort(key=lambda r: r.parsed_version, reverse=True)
    return out


def project_releases(session: Session, project: Project, principal: Caller) -> list[ReleaseView]:
    """The project's releases this caller may see, newest first. Releases
    whose files were all deleted are left out."""
    return _releases_of(session, [project.id], principal, [project]).get(project.id, [])


def find_visible_project(
    session: Session, organization: Organization, principal: Caller, name: str
) -> Project:
    """The project (any spelling of its name) if visible; NotFound otherwise,
    for a name that could not even be a project's too."""
    try:
        return visible_project(session, organization, principal, name)
    except InvalidInput:
        raise NotFound(f"No project {name!r}.") from None


def find_release(releases: list[ReleaseView], project: Project, version: str) -> ReleaseView:
    """The release `version` names (1.0 and 1.0.0 are the same); NotFound otherwise."""
    try:
        key = canonical_version(version)
    except InvalidVersion:
        key = None
    for view in releases:
        if view.release.canonical_version == key:
            return view
    raise NotFound(f"No release {version!r} of {project.name}.")
