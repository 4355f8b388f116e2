"""/{org}/publishers: the GitHub workflows trusted to mint 15-minute tokens."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from envelope.errors import EnvelopeError
from envelope.orgs.capabilities import Capability
from envelope.publishing import publishers
from envelope.publishing.workflows import workflow_snippet
from web.pages.org_pages import access_for, html_pages
from web.runtime import runtime
from web.shared import public_base_url

bp = html_pages(Blueprint("publishers", __name__))


@bp.get("/<org>/publishers")
@login_required
def index(org: str) -> str:
    return _page(org, form={}, error=None)


@bp.post("/<org>/publishers")
@login_required
def add(org: str) -> Response:
    form = request.form
    try:
        with runtime().db.write() as session:
            access = access_for(session, org, Capability.MANAGE_REPOSITORIES, to="add trusted publishers")
            added = publishers.add_publisher(
                session, access.organization, repository=form.get("repository", ""),
                workflow=form.get("workflow", ""), environment=form.get("environment"),
                projects=form.get("projects", "").replace(",", "\n").splitlines(),
                scope=form.get("scope", "upload"), actor=access.actor,
            )
            label = publishers.describe(added)
    except EnvelopeError as exc:
        if exc.status in (403, 404):
            raise
        return Response(_page(org, form=form, error=str(exc)), status=exc.status)
    flash(f"Trusted {label}: its runs may now mint 15-minute tokens.", "success")
    return redirect(url_for("publishers.index", org=org))


@bp.post("/<org>/publishers/<int:publisher_id>/remove")
@login_required
def remove(org: str, publisher_id: int) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.MANAGE_REPOSITORIES, to="remove trusted publishers")
        found = publishers.find_publisher(session, publisher_id, access.organization)
        label = publishers.describe(found)
        publishers.remove_publisher(session, found, actor=access.actor)
    flash(f"Removed {label}; tokens it minted are revoked.", "success")
    return redirect(url_for("publishers.index", org=org))


def _page(org: str, *, form, error: str | None) -> str:
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_REPOSITORIES, to="see trusted publishers")
        rows = publishers.list_publishers(session, access.organization)
        snippets = [workflow_snippet(p, public_base_url(), org) for p in rows]
        return render_template(
            "ui/publishers.html", org=access.organization, publishers=list(zip(rows, snippets)), form=form,
            error=error, can_manage=access.allows(Capability.MANAGE_REPOSITORIES),
        )
