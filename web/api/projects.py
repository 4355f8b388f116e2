"""API: projects, releases, yank/unyank, delete."""
from __future__ import annotations

from flask import Response, jsonify, request

from envelope import usage
from envelope.orgs.capabilities import Capability
from envelope.packaging import catalog
from envelope.packaging import releases as release_changes
from envelope.packaging.coverage import wheel_coverage
from web.api import authorised_body, bp, org_access, shapes, text
from web.runtime import runtime

MAX_QUERY_LENGTH = 200  # characters


@bp.get("/v1/orgs/<org>/projects")
def list_projects(org: str) -> Response:
    query = request.args.get("q", "")[:MAX_QUERY_LENGTH]
    with runtime().db.read() as session:
        access = org_access(session, org)
        projects = catalog.list_projects(session, access.organization, access.principal, query)
        return jsonify(projects=[shapes.project_summary(p) for p in projects])


@bp.get("/v1/orgs/<org>/projects/<project>")
def get_project(org: str, project: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org)
        row = catalog.find_visible_project(session, access.organization, access.principal, project)
        releases = catalog.project_releases(session, row, access.principal)
        latest = catalog.latest(releases)
        recent = usage.release_downloads(session, [r.release.id for r in releases], start=usage.since())
        return jsonify(
            name=row.name,
            normalized_name=row.normalized_name,
            latest_version=latest.version if latest else None,
            summary=latest.release.summary if latest else None,
            releases=[shapes.release_summary(r, recent) for r in releases],
        )


@bp.get("/v1/orgs/<org>/projects/<project>/releases/<version>")
def get_release(org: str, project: str, version: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org)
        row = catalog.find_visible_project(session, access.organization, access.principal, project)
        shown = catalog.find_release(catalog.project_releases(session, row, access.principal), row, version)
        counts = usage.release_usage(session, access, shown.release.id, [f.id for f in shown.files])
        return jsonify(shapes.release(shown, wheel_coverage(f.filename for f in shown.files), counts))


@bp.post("/v1/orgs/<org>/projects/<project>/releases/<version>/yank")
def yank(org: str, project: str, version: str) -> Response:
    return _change_yank(org, project, version, yanked=True)


@bp.post("/v1/orgs/<org>/projects/<project>/releases/<version>/unyank")
def unyank(org: str, project: str, version: str) -> Response:
    return _change_yank(org, project, version, yanked=False)


def _change_yank(org: str, project: str, version: str, *, yanked: bool) -> Response:
    data = authorised_body(org, Capability.YANK, to="yank or unyank releases")
    reason, filename = text(data, "reason"), text(data, "filename")
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.YANK, to="yank or unyank releases")
        files = release_changes.change_yank(
            session, access, project, version, yanked=yanked, reason=reason, filename=filename
        )
        return jsonify(files=[shapes.file(f) for f in files])


@bp.delete("/v1/orgs/<org>/projects/<project>/releases/<version>")
def delete_release(org: str, project: str, version: str) -> Response:
    """Owners only; ?confirm= must repeat the version; ?filename= deletes one file."""
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.DELETE, to="delete releases or files")
        deleted = release_changes.delete(
            session, access, project, version,
            confirm=request.args.get("confirm"), filename=request.args.get("filename"),
        )
        return jsonify(deleted=deleted)
