"""API: trusted publishers of an organization (owners manage, members see)."""
from __future__ import annotations

from flask import Response, jsonify

from envelope.models import TokenScope
from envelope.orgs.capabilities import Capability
from envelope.publishing import publishers
from web.api import authorised_body, bp, org_access, shapes, strings, text
from web.runtime import runtime


@bp.get("/v1/orgs/<org>/publishers")
def list_publishers(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.SEE_REPOSITORIES, to="see trusted publishers")
        return jsonify(publishers=[shapes.publisher(p) for p in publishers.list_publishers(session, access.organization)])


@bp.post("/v1/orgs/<org>/publishers")
def add_publisher(org: str) -> tuple[Response, int]:
    data = authorised_body(org, Capability.MANAGE_REPOSITORIES, to="add trusted publishers")
    repository, workflow = text(data, "repository", required=True), text(data, "workflow", required=True)
    environment, scope = text(data, "environment"), text(data, "scope", default=TokenScope.upload)
    projects = strings(data, "projects")
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_REPOSITORIES, to="add trusted publishers")
        added = publishers.add_publisher(
            session, access.organization, repository=repository or "", workflow=workflow or "",
            environment=environment, projects=projects, scope=scope or TokenScope.upload, actor=access.actor,
        )
        return jsonify(shapes.publisher(added)), 201


@bp.delete("/v1/orgs/<org>/publishers/<int:publisher_id>")
def remove_publisher(org: str, publisher_id: int) -> tuple[str, int]:
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_REPOSITORIES, to="remove trusted publishers")
        found = publishers.find_publisher(session, publisher_id, access.organization)
        publishers.remove_publisher(session, found, actor=access.actor)
    return "", 204
