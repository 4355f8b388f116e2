"""/{org}/audit: who changed what, newest first, a page at a time, with
filters (who, what, project, dates); /{org}/audit/export.csv and .json
stream every matching row under the same filters."""
from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_login import login_required
from sqlalchemy import select

from envelope.audit_log import (
    AuditFilter, action_label, areas, csv_lines, describe_detail, iter_events, json_chunks, list_events,
)
from envelope.audit import AuditAction
from envelope.models import Project
from envelope.orgs.capabilities import Capability
from web.pages.org_pages import access_for, html_pages
from web.runtime import runtime

bp = html_pages(Blueprint("audit", __name__))
PAGE_SIZE = 50  # events
EXPORTS = {"csv": ("text/csv; charset=utf-8", csv_lines), "json": ("application/json", json_chunks)}


@bp.get("/<org>/audit")
@login_required
def index(org: str) -> str:
    page = max(request.args.get("page", 1, type=int), 1)
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_AUDIT, to="read the audit log")
        filters = AuditFilter.from_args(request.args)
        events, more = list_events(session, access.organization.id, filters, page=page, per_page=PAGE_SIZE)
        projects = session.scalars(
            select(Project.name).where(Project.organization_id == access.organization.id).order_by(Project.name)
        ).all()
        return render_template(
            "ui/audit.html", org=access.organization, events=events, page=page, more=more, filters=filters,
            projects=projects, areas=areas(), actions=list(AuditAction), action_label=action_label,
            describe=describe_detail,
        )


@bp.get("/<org>/audit/export.<kind>")
@login_required
def export(org: str, kind: str) -> Response:
    if kind not in EXPORTS:
        return Response("Export as audit/export.csv or audit/export.json.\n", status=404, mimetype="text/plain")
    with runtime().db.read() as session:
        organization = access_for(session, org, Capability.SEE_AUDIT, to="export the audit log").organization
        organization_id, name = organization.id, organization.name
    filters = AuditFilter.from_args(request.args)
    media_type, render = EXPORTS[kind]

    def body() -> Iterator[str]:
        with runtime().db.read() as session:  # its own session: the response outlives the view
            yield from render(iter_events(session, organization_id, filters))

    response = Response(stream_with_context(body()), mimetype=media_type.split(";")[0])
    response.headers["Content-Type"] = media_type
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-audit.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response
