"""/{org}/audit: who changed what, newest first, a page at a time."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from envelope.orgs.capabilities import Capability
from envelope.audit import list_events
from web.pages.org_pages import access_for, html_pages
from web.runtime import runtime

bp = html_pages(Blueprint("audit", __name__))
PAGE_SIZE = 50  # events


@bp.get("/<org>/audit")
@login_required
def index(org: str) -> str:
    page = request.args.get("page", 1, type=int)
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_AUDIT, to="read the audit log")
        events, more = list_events(session, access.organization.id, page=page, per_page=PAGE_SIZE)
        return render_template(
            "ui/audit.html", org=access.organization, events=events, page=max(page, 1), more=more
        )
