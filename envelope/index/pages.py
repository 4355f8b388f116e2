"""The simple repository API as data: one PEP 691-shaped dict per page.

The web layer renders the same dict as JSON (PEP 691) or HTML (PEP 503), so
the two can never disagree. Covers PEP 503, 592 (yanked), 658/714 (core
metadata), 691 (JSON), 700 (versions, size, upload-time), 708 (tracks and
alternate-locations, which only pages proxied from an upstream carry:
envelope.upstream.pages), 740 (a `provenance` link for files uploaded with
verified attestations) and 792 (project-status).

`api-version` is the highest version every part of which is implemented;
versions are cumulative (1.2 = PEP 708, 1.3 = PEP 740, 1.4 = PEP 792).
Keys of later versions may be served before it (clients ignore unknown keys).
"""
from __future__ import annotations

import gzip
import hashlib
import html
import json
from collections.abc import Callable, Sequence
from typing import Any
from dataclasses import dataclass
from urllib.parse import quote

from packaging.utils import NormalizedName
from packaging.version import Version
from sqlalchemy import Connection, and_, bindparam, func, select
from sqlalchemy.orm import Session

from envelope.orgs.identity import Caller
from envelope.cache import Cache
from envelope.db import Database
from envelope.errors import NotFound
from envelope.models import File, FileProvenance, Organization, Project, ProjectStatus, Release
from envelope.names import normalize

API_VERSION = "1.4"
UPLOAD_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # PEP 700: ISO 8601, UTC, with a Z


def visible_project(
    session: Session, organization: Organization, principal: Caller, name: str
) -> Project:
    """The project named (in any spelling) if this caller may read it; NotFound
    otherwise, identical whether it is missing or merely hidden."""
    normalized = normalize(name)
    if not principal.may_read_project(normalized):
        raise NotFound("Not Found")
    project = session.scalar(
        select(Project).where(
            Project.organization_id == organization.id, Project.normalized_name == normalized
        )
    )
    if project is None:
        raise NotFound("Not Found")
    return project


_projects = Project.__table__
_organizations = Organization.__table__
# Built once: the index's hot path runs these on every request, so they skip
# the ORM and SQLAlchemy's per-call statement construction. Each also reads
# the organization's auth epoch, so confirming a cached credential costs no
# round trip of its own (envelope.orgs.identity).
_PROJECT_SERIAL = (
    select(_organizations.c.auth_epoch, _projects.c.id, _projects.c.serial)
    .select_from(_organizations.outerjoin(_projects, and_(
        _projects.c.organization_id == _organizations.c.id, _projects.c.normalized_name == bindparam("name"),
    )))
    .where(_organizations.c.id == bindparam("organization_id"))
)
_ORGANIZATION_SERIAL = select(_organizations.c.serial, _organizations.c.auth_epoch).where(
    _organizations.c.id == bindparam("organization_id")
)
_NEWEST_VISIBLE_PROJECT = select(
    select(func.max(_projects.c.id)).where(
        _projects.c.organization_id == bindparam("organization_id"),
        _projects.c.normalized_name.in_(bindparam("names", expanding=True)),
    ).scalar_subquery(),
    _organizations.c.auth_epoch,
).where(_organizations.c.id == bindparam("organization_id"))


@dataclass(frozen=True)
class ProjectState:
    auth_epoch: int
    project_id: int | None  # None: no such project (whoever asks)
    serial: int


def project_state(connection: Connection, organization_id: int, name: NormalizedName) -> ProjectState:
    """One statement: the organization's auth epoch and the named project's
    id and serial. Who may see the project is the caller's to decide, once
    the epoch has confirmed who the caller is."""
    row = connection.execute(
        _PROJECT_SERIAL, {"organization_id": organization_id, "name": name}
    ).first()
    if row is None:
        raise NotFound("Not Found")
    return ProjectState(row[0], row[1], row[2] or 0)


def visible_project_serial(
    connection: Connection, organization_id: int, principal: Caller, name: str
) -> tuple[int, int]:
    """(id, serial) of the project named, as visible_project() decides, at a
    fraction of its cost: what the project page needs to answer from cache."""
    normalized = normalize(name)
    state = project_state(connection, organization_id, normalized)
    if state.project_id is None or not principal.may_read_project(normalized):
        raise NotFound("Not Found")
    return state.project_id, state.serial


def project_list(
    session: Session, organization: Organization, principal: Caller, serial: int | None = None
) -> dict[str, Any]:
    """`serial` is list_serial()'s (default: the organization's)."""
    rows = session.execute(
        select(Project.name, Project.normalized_name)
        .where(Project.organization_id == organization.id)
        .order_by(Project.normalized_name)
    )
    return {
        "meta": {
            "api-version": API_VERSION,
            "_last-serial": organization.serial if serial is None else serial,
        },
        "projects": [
            {"name": name, "_normalized": normalized}
            for name, normalized in rows
            if principal.may_read_project(normalized)
        ],
    }


def visible_files(session: Session, project: Project, principal: Caller) -> list[tuple[File, str]]:
    """(file, version) pairs this caller may see, in version then filename order;
    none at all for a quarantined project (PEP 792), whoever asks."""
    if not ProjectStatus(project.status).offers_files:
        return []
    rows = session.execute(
        select(File, Release.version)
        .join(Release, File.release_id == Release.id)
        .where(File.project_id == project.id)
    ).all()
    visible = [
        (file, version)
        for file, version in rows
        if principal.may_read_version(project.normalized_name, version)
    ]
    visible.sort(key=lambda row: (Version(row[1]), row[0].filename))
    return visible


def path_segment(text: str) -> str:
    """`text` percent-encoded as one URL path segment: every character but
    letters, digits and '_.-~' is escaped, so no filename or name can end a
    path early ('#', '?'), climb out of it ('/'; '%2e%2e' is sent as '%252e%252e') or
    break out of an HTML attribute. Servers decode it before routing, so the
    download route sees the stored filename again."""
    return quote(text, safe="")


def files_url(sha256: str, filename: str) -> str:
    """A file's URL relative to the project page, so the index works behind
    any proxy; PEP 658 metadata is this URL plus '.metadata'."""
    return f"../../files/{path_segment(sha256)}/{path_segment(filename)}"


def file_url(file: File) -> str:
    return files_url(file.sha256, file.filename)


def provenance_url(project: str, version: str, filename: str) -> str:
    """A file's PEP 740 provenance URL relative to the project page: the
    integrity endpoint, /{org}/integrity/{project}/{version}/{filename}/provenance."""
    parts = "/".join(path_segment(part) for part in (project, version, filename))
    return f"../../integrity/{parts}/provenance"


def attested_file_ids(session: Session, project: Project) -> set[int]:
    """Ids of the project's files that have a provenance object."""
    return set(session.scalars(
        select(FileProvenance.file_id).join(File, File.id == FileProvenance.file_id).where(File.project_id == project.id)
    ))


def visible_serial(project: Project, principal: Caller, files: Sequence[tuple[File, str]]) -> int:
    """The serial a caller is told: the project's own only when the caller
    sees every version, since it also moves with versions this caller may
    not know of; otherwise the newest visible file stands in for it."""
    if principal.sees_every_version(project.normalized_name):
        return project.serial
    return max((file.id for file, _ in files), default=0)


def project_detail(session: Session, project: Project, principal: Caller) -> dict[str, Any]:
    files = visible_files(session, project, principal)
    attested = attested_file_ids(session, project)
    versions = sorted({version for _, version in files}, key=Version)
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": visible_serial(project, principal, files)},
        "name": project.normalized_name,
        "project-status": status_entry(ProjectStatus(project.status), project.status_reason),
        "versions": versions,
        "files": [
            _file_entry(file, provenance_url(project.normalized_name, version, file.filename)
                        if file.id in attested else None)
            for file, version in files
        ],
    }


def status_entry(status: ProjectStatus | str, reason: str | None) -> dict[str, str]:
    """PEP 792's `project-status` object: the status, and the reason when there is one."""
    entry = {"status": str(status)}
    if reason:
        entry["reason"] = reason
    return entry


def _file_entry(file: File, provenance: str | None = None) -> dict[str, Any]:
    # PEP 658 metadata is offered for wheels only: an sdist's PKG-INFO may
    # have dynamic fields, and installers must build it to know.
    metadata: dict[str, str] | bool = (
        {"sha256": file.metadata_sha256} if file.packagetype == "bdist_wheel" else False
    )
    entry: dict[str, Any] = {
        "filename": file.filename,
        "url": file_url(file),
        "hashes": {"sha256": file.sha256, "blake2b_256": file.blake2b_256},
        "requires-python": file.requires_python,
        "core-metadata": metadata,
        "yanked": (file.yanked_reason or True) if file.yanked else False,
        "size": file.size,
        "upload-time": file.upload_time.strftime(UPLOAD_TIME_FORMAT),
    }
    if provenance is not None:  # PEP 740: optional, so files without attestations omit it
        entry["provenance"] = provenance
    return entry


def render_list_html(data: dict[str, Any]) -> str:
    links = "".join(
        f'<a href="{html.escape(path_segment(p["_normalized"]))}/">{html.escape(p["name"])}</a><br>\n'
        for p in data["projects"]
    )
    return _page("Simple index", links)


def render_detail_html(data: dict[str, Any]) -> str:
    links = []
    for f in data["files"]:
        attrs = [f'href="{html.escape(f["url"])}#sha256={f["hashes"]["sha256"]}"']
        if f["requires-python"]:
            attrs.append(f'data-requires-python="{html.escape(f["requires-python"])}"')
        if f["core-metadata"]:
            # PEP 714: HTML keeps the old attribute for older pips; JSON has
            # only "core-metadata" (pip 22.3-23.1 crash on the old key's dict).
            value = f'sha256={f["core-metadata"]["sha256"]}'
            attrs.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
        if f.get("provenance"):
            attrs.append(f'data-provenance="{html.escape(f["provenance"])}"')
        if f["yanked"] is not False:
            reason = "" if f["yanked"] is True else f["yanked"]
            attrs.append(f'data-yanked="{html.escape(reason)}"')
        links.append(f'<a {" ".join(attrs)}>{html.escape(f["filename"])}</a><br>\n')
    return _page(f"Links for {data['name']}", "".join(links), _detail_meta(data))


def _detail_meta(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The project page's <meta> elements beyond the version: PEP 708's
    tracks and alternate locations (one element per URL), PEP 792's status."""
    meta = [("pypi:tracks", url) for url in data["meta"].get("tracks", [])]
    meta += [("pypi:alternate-locations", url) for url in data.get("alternate-locations", [])]
    status = data.get("project-status")
    if status:
        meta.append(("pypi:project-status", status["status"]))
        if status.get("reason"):
            meta.append(("pypi:project-status-reason", status["reason"]))
    return meta


def _page(title: str, body: str, meta: Sequence[tuple[str, str]] = ()) -> str:
    title = html.escape(title)
    head = "".join(f'<meta name="{name}" content="{html.escape(content)}">\n' for name, content in meta)
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">\n{head}'
        f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    )


def json_view(data: dict[str, Any]) -> dict[str, Any]:
    """The dict without our private keys (those starting with '_' below meta)."""
    out = {k: v for k, v in data.items()}
    if "projects" in out:
        out["projects"] = [{"name": p["name"]} for p in out["projects"]]
    return out


PAGE_TTL = 24 * 3600  # seconds; keys carry the serial, so a change never serves a stale page


def organization_serial(connection: Connection, organization_id: int) -> int:
    return organization_state(connection, organization_id)[0]


def organization_state(connection: Connection, organization_id: int) -> tuple[int, int]:
    """(serial, auth epoch) of the organization, in one statement."""
    row = connection.execute(_ORGANIZATION_SERIAL, {"organization_id": organization_id}).first()
    if row is None:
        raise NotFound("Not Found")
    return row[0] or 0, row[1]


def list_serial(connection: Connection, organization_id: int, principal: Caller) -> tuple[int, int]:
    """(serial, auth epoch): the /simple/ page's serial as this caller may see
    it, and the epoch to confirm the caller with. The organization's
    serial moves whenever any project is created, hidden ones included; for
    a caller restricted to some projects it is instead the newest of those
    that exist, which moves only when one of them appears (projects are never
    deleted, and the page lists nothing else)."""
    if principal.restrictions is None:
        return organization_state(connection, organization_id)
    names = [r.project for r in principal.restrictions]
    row = connection.execute(
        _NEWEST_VISIBLE_PROJECT, {"organization_id": organization_id, "names": names}
    ).first()
    if row is None:
        raise NotFound("Not Found")
    return row[0] or 0, row[1]


def body_tag(body: bytes) -> str:
    """An ETag part for a page whose serial this caller may not see: its digest."""
    return hashlib.sha256(body).hexdigest()[:32]


def cached_list_page(db: Database, cache: Cache, organization_id: int, principal: Caller, serial: int,
                     as_json: bool, compressed: bool = False) -> bytes:
    """The /simple/ page, rendered once per (organization serial, restriction,
    format) and compressed once more when asked; the database is read only to render it."""
    key = f"simple:list:{organization_id}:{serial}:{principal.restriction_key}:{int(as_json)}"

    def render() -> bytes:
        with db.read() as session:
            data = project_list(session, session.get(Organization, organization_id), principal, serial)
        return (json.dumps(json_view(data)) if as_json else render_list_html(data)).encode()

    return cached_body(cache, key, render, compressed)


def cached_detail_page(db: Database, cache: Cache, project_id: int, serial: int, principal: Caller,
                       as_json: bool, compressed: bool = False) -> bytes:
    """A project page, rendered once per (project serial, restriction, format):
    publish, yank and delete bump the serial, which is what invalidates it.
    The key never leaves the server; what the page says of its serial is
    project_detail's."""
    key = f"simple:detail:{project_id}:{serial}:{principal.restriction_key}:{int(as_json)}"

    def render() -> bytes:
        with db.read() as session:
            return render_page(project_detail(session, session.get(Project, project_id), principal), as_json)

    return cached_body(cache, key, render, compressed)


def cached_body(cache: Cache, key: str, render: Callable[[], bytes], compressed: bool) -> bytes:
    """The page cached under `key`, rendered by `render` on a miss; with
    `compressed`, its gzip encoding, cached beside it under `key` + ":gzip".

    Both are made once per key (keys carry the serial), so a busy page costs
    one compression per change, not one per request. The gzip stream has no
    timestamp or name, so the same page always compresses to the same bytes."""
    if compressed:
        body = cache.get(key + ":gzip")
        if body is None:
            body = gzip.compress(cached_body(cache, key, render, False), compresslevel=GZIP_LEVEL, mtime=0)
            cache.set(key + ":gzip", body, PAGE_TTL)
        return body
    body = cache.get(key)
    if body is None:
        body = render()
        cache.set(key, body, PAGE_TTL)
    return body


GZIP_LEVEL = 6  # zlib's default: level 9 saves ~1% more on index pages for twice the time


def render_page(data: dict[str, Any], as_json: bool) -> bytes:
    """A project page's dict as PEP 691 JSON or PEP 503 HTML."""
    return (json.dumps(data) if as_json else render_detail_html(data)).encode()
