"""/{org}/repositories: GitHub connections, their sync history, "sync now"."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from envelope.orgs.capabilities import Capability
from envelope.github import app as github_app
from envelope.github import repositories
from envelope.errors import EnvelopeError
from envelope.github.sync_status import latest_runs, recent_runs
from web.pages.github_app import install_state
from web.pages.org_pages import access_for, html_pages, no_store
from web.runtime import runtime
from web.shared import HISTORY_LENGTH, webhook_url

bp = html_pages(Blueprint("repositories", __name__))


@bp.get("/<org>/repositories")
@login_required
def index(org: str) -> str:
    return _list_page(org, form={}, error=None)[0]


@bp.post("/<org>/repositories")
@login_required
def connect(org: str) -> Response:
    form = request.form
    try:
        with runtime().db.write() as session:
            access = access_for(session, org, Capability.MANAGE_REPOSITORIES, to="connect GitHub repositories")
            new = repositories.add_repository(
                session,
                runtime().settings.secret_key,
                access.organization,
                form.get("full_name", "").strip(),
                github_token=form.get("github_token", "").strip() or None,
                projects=[p.strip() for p in form.get("projects", "").replace(",", "\n").splitlines() if p.strip()],
                actor=access.actor,
            )
            full_name, organization = new.connection.full_name, access.organization
    except EnvelopeError as exc:
        if exc.status in (403, 404):
            raise
        page, status = _list_page(org, form=form, error=str(exc), status=exc.status)
        return Response(page, status=status)
    page = render_template(
        "ui/repository_connected.html", org=organization, full_name=full_name,
        webhook_url=webhook_url(), secret=new.webhook_secret,
    )
    return no_store(Response(page))


@bp.get("/<org>/repositories/<owner>/<repo>")
@login_required
def detail(org: str, owner: str, repo: str) -> str:
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_REPOSITORIES, to="see repositories")
        connection = repositories.find_org_connection(session, access.organization, f"{owner}/{repo}")
        return render_template(
            "ui/repository.html", org=access.organization, connection=connection,
            runs=recent_runs(session, connection, limit=HISTORY_LENGTH),
            can_sync=access.allows(Capability.UPLOAD), is_owner=access.allows(Capability.MANAGE_MEMBERS),
            webhook_url=webhook_url(),
        )


@bp.post("/<org>/repositories/<owner>/<repo>/sync")
@login_required
def sync_now(org: str, owner: str, repo: str) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.SYNC, to="start a sync")
        connection = repositories.find_org_connection(session, access.organization, f"{owner}/{repo}")
        run = repositories.queue_manual_sync(session, connection, actor=access.actor)
        run_id = run.id
    flash(f"Sync #{run_id} is queued: a worker fetches every release of {owner}/{repo}.", "success")
    return redirect(url_for("repositories.detail", org=org, owner=owner, repo=repo))


@bp.post("/<org>/repositories/<owner>/<repo>/remove")
@login_required
def remove(org: str, owner: str, repo: str) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.MANAGE_REPOSITORIES, to="remove GitHub connections")
        connection = repositories.find_org_connection(session, access.organization, f"{owner}/{repo}")
        repositories.remove_connection(session, connection, actor=access.actor)
    flash(f"Disconnected {owner}/{repo}. Delete the webhook on GitHub too.", "success")
    return redirect(url_for("repositories.index", org=org))


def _list_page(org: str, *, form, error: str | None, status: int = 200) -> tuple[str, int]:
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_REPOSITORIES, to="see repositories")
        connections = repositories.list_repositories(session, access.organization)
        is_owner = access.allows(Capability.MANAGE_MEMBERS)
        app = github_app.current_app(session) if is_owner else None
        installations = github_app.org_installations(session, access.organization) if app else []
        last_runs = latest_runs(session, [c.id for c in connections])
    page = render_template(
        "ui/repositories.html", org=access.organization, form=form, error=error,
        connections=connections, last_runs=last_runs, is_owner=is_owner, app=app,
        install_link=f"{github_app.install_url(runtime().settings, app)}?state={install_state(org)}" if app else None,
        choices=_app_choices(installations, {c.full_name for c in connections}),
    )
    return page, status


def _app_choices(installations, connected: set[str]) -> list[dict]:
    """Per installation, the repositories GitHub says it can see and that are
    not connected yet (or why they cannot be listed)."""
    choices = []
    for installation in installations:
        entry = {"installation": installation, "repositories": [], "error": None}
        try:
            names = github_app.available_repositories(runtime().db, runtime().settings, installation)
            entry["repositories"] = [n for n in names if n not in connected]
        except EnvelopeError as exc:
            entry["error"] = str(exc)
        choices.append(entry)
    return choices
