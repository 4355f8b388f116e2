"""Project and release pages: install first, the README, files, wheel
coverage and a sidebar from the core metadata; a separate management page
for yank/unyank and the PEP 792 status (maintainers) and delete (owners,
confirmed)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from envelope import usage
from envelope.orgs.capabilities import Capability
from envelope.models import ProjectStatus
from envelope.packaging import catalog, project_status
from envelope.packaging import releases as release_changes
from envelope.packaging.coverage import row_label, wheel_coverage
from envelope.errors import InvalidInput, NotFound
from envelope.index.snippets import install_snippets, public_packages
from envelope.names import normalize
from envelope.packaging.core_metadata import release_metadata
from envelope.packaging.project_facts import project_facts
from envelope.packaging.readme import readme_on_page
from web.pages.org_pages import access_for, html_pages
from web.runtime import runtime
from web.shared import public_base_url

bp = html_pages(Blueprint("projects", __name__))


@bp.get("/<org>/projects/<name>/")
@login_required
def project(org: str, name: str) -> Response | str:
    return _release_page(org, name, None)


@bp.get("/<org>/projects/<name>/<version>/")
@login_required
def release(org: str, name: str, version: str) -> Response | str:
    return _release_page(org, name, version)


def _release_page(org: str, name: str, version: str | None, *, manage: bool = False) -> Response | str:
    with runtime().db.read() as session:
        access = access_for(session, org)
        row = catalog.find_visible_project(session, access.organization, access.principal, name)
        if row.normalized_name != name:
            target = url_for(request.endpoint, org=org, name=row.normalized_name, version=version)
            return redirect(target, code=301)
        releases = catalog.project_releases(session, row, access.principal)
        latest = catalog.latest(releases)
        shown = catalog.find_release(releases, row, version) if version else latest
        release = shown.release if shown else None
        recent = usage.since()
        common = dict(
            org=access.organization, access=access, project=row, releases=releases, latest=latest, shown=shown,
            downloads=usage.release_downloads(session, [r.release.id for r in releases], start=recent),
            file_downloads=usage.file_downloads(session, [f.id for f in shown.files], start=recent) if shown else {},
            downloaders=usage.downloaders_for(session, access, shown.release.id) if shown else None,
            can_yank=access.allows(Capability.UPLOAD),
            can_delete=access.allows(Capability.MANAGE_MEMBERS),
            can_set_status=access.allows(Capability.SET_STATUS),
            status=ProjectStatus(row.status),
        )
        if manage:
            if not (common["can_yank"] or common["can_set_status"]):
                access_for(session, org, Capability.YANK, to="manage releases")
            return render_template("ui/project_manage.html", statuses=list(ProjectStatus), **common)
        facts = None
        if shown:
            try:
                metadata = release_metadata(runtime().storage, shown.files, runtime().cache)
            except FileNotFoundError:  # a storage gap must not take the page down: no sidebar
                metadata = {}
            facts = project_facts(session, access.organization, access.principal, metadata)
        return render_template(
            "ui/project.html",
            facts=facts,
            readme=readme_on_page(release) if release else None,
            coverage=wheel_coverage(f.filename for f in shown.files) if shown else None,
            row_label=row_label,
            snippets=install_snippets(public_base_url(), org, project=row.name),
            public_packages=public_packages(org, access.organization.upstream_url),
            **common,
        )


@bp.get("/<org>/projects/<name>/manage")
@login_required
def manage_project(org: str, name: str) -> Response | str:
    return _release_page(org, name, None, manage=True)


@bp.get("/<org>/projects/<name>/<version>/manage")
@login_required
def manage(org: str, name: str, version: str) -> Response | str:
    return _release_page(org, name, version, manage=True)


@bp.post("/<org>/projects/<name>/status")
@login_required
def set_status(org: str, name: str) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.SET_STATUS, to="change a project's status")
        found = project_status.change_status(
            session, access, name, request.form.get("status", ""), reason=request.form.get("reason")
        )
        shown = f"{found.name} is now {ProjectStatus(found.status).value}."
    flash(shown, "success")
    return redirect(url_for("projects.manage_project", org=org, name=_normalized(name)))


@bp.post("/<org>/projects/<name>/<version>/yank")
@login_required
def yank(org: str, name: str, version: str) -> Response:
    return _change_yank(org, name, version, yanked=True)


@bp.post("/<org>/projects/<name>/<version>/unyank")
@login_required
def unyank(org: str, name: str, version: str) -> Response:
    return _change_yank(org, name, version, yanked=False)


def _change_yank(org: str, name: str, version: str, *, yanked: bool) -> Response:
    filename = request.form.get("filename") or None
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.YANK, to="yank or unyank releases")
        files = release_changes.change_yank(
            session, access, name, version, yanked=yanked, reason=request.form.get("reason"), filename=filename
        )
    what = filename or f"{name} {version} ({len(files)} files)"
    flash(f"{'Yanked' if yanked else 'Unyanked'} {what}.", "success")
    return redirect(url_for("projects.manage", org=org, name=_normalized(name), version=version))


@bp.route("/<org>/projects/<name>/<version>/delete", methods=["GET", "POST"])
@login_required
def delete(org: str, name: str, version: str) -> Response | str:
    filename = request.values.get("filename") or None
    error = None
    if request.method == "POST":
        try:
            with runtime().db.write() as session:
                access = access_for(session, org, Capability.DELETE, to="delete releases or files")
                deleted = release_changes.delete(
                    session, access, name, version, confirm=request.form.get("confirm"), filename=filename
                )
            flash(
                f"Deleted {', '.join(deleted)}. These filenames can never be uploaded again.", "success"
            )
            return redirect(url_for("projects.project", org=org, name=_normalized(name)))
        except InvalidInput as exc:
            error = str(exc)
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.DELETE, to="delete releases or files")
        row = catalog.find_visible_project(session, access.organization, access.principal, name)
        shown = catalog.find_release(catalog.project_releases(session, row, access.principal), row, version)
        files = [f for f in shown.files if filename is None or f.filename == filename]
        if not files:
            raise NotFound(f"No file {filename!r} in {row.name} {shown.version}.")
        page = render_template(
            "ui/release_delete.html", org=access.organization, project=row, shown=shown,
            files=files, filename=filename, error=error, downloaders=usage.downloaders_for(session, access, shown.release.id) if shown else None,
        )
    return Response(page, status=400 if error else 200)


def _normalized(name: str) -> str:
    try:
        return normalize(name)
    except InvalidInput:
        return name
