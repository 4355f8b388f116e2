"""An organization's retention policies: members see them and what they would
delete now (the dry run); owners set and remove them (docs/lifecycle.md)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from envelope.errors import InvalidInput, NotFound
from envelope.lifecycle import retention
from envelope.orgs.capabilities import Capability

from web.pages.org_pages import access_for, html_pages
from web.runtime import runtime

bp = html_pages(Blueprint("retention", __name__))
FIELD_LIMIT = 200  # characters kept of a field shown again after an error


def _number(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f"The number of pre-releases to keep is a whole number, not {text[:20]!r}.")
    return int(text)


@bp.route("/<org>/retention", methods=["GET", "POST"])
@login_required
def index(org: str) -> Response | str:
    rt, error, form = runtime(), None, {}
    if request.method == "POST":
        form = {key: request.form.get(key, "")[:FIELD_LIMIT] for key in ("project", "keep_prereleases", "max_age")}
        try:
            with rt.db.write() as session:
                access = access_for(session, org, Capability.DELETE, to="set retention policies")
                max_age = form["max_age"].strip()
                retention.set_policy(
                    session, access, project=form["project"].strip() or None,
                    keep_prereleases=_number(form["keep_prereleases"]),
                    max_age_days=retention.parse_age(max_age) if max_age else None,
                    include_downloaded=request.form.get("include_downloaded") == "on",
                )
            flash(f"Saved the retention policy for {form['project'].strip() or org}.", "success")
            return redirect(url_for("retention.index", org=org))
        except (InvalidInput, NotFound) as exc:
            error = str(exc)
    with rt.db.read() as session:
        access = access_for(session, org, Capability.SEE_SETTINGS, to="see the retention policies")
        page = render_template(
            "ui/org_retention.html", org=access.organization, error=error, form=form,
            policies=retention.policies(session, access.organization),
            plan=retention.plan(session, access.organization),
            is_owner=access.allows(Capability.DELETE),
        )
    return page, 400 if error else 200


@bp.post("/<org>/retention/clear")
@login_required
def clear(org: str) -> Response:
    project = request.form.get("project", "").strip() or None
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.DELETE, to="remove retention policies")
        retention.clear_policy(session, access, project=project)
    flash(f"Removed the retention policy for {project or org}.", "success")
    return redirect(url_for("retention.index", org=org))
