"""The GitHub App: an administrator creates it (GitHub's manifest flow),
owners install it and connect the repositories it can see.

Both round trips through GitHub carry a `state` bound to the browser's
session: the manifest's is a random value kept in the session; the
installation's is signed and names the organization, with a nonce kept in
the session, so a link made for one person does nothing in another's browser.
"""
from __future__ import annotations

import hmac
import json
import secrets

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer

from envelope.accounts.users import user_label
from envelope.errors import EnvelopeError, InvalidInput
from envelope.github import app as github_app
from envelope.orgs.capabilities import Capability
from web.pages.org_pages import CONTENT_SECURITY_POLICY, access_for, error_page, html_pages
from web.runtime import runtime

bp = html_pages(Blueprint("github_app", __name__))
MANIFEST_STATE = "github_app_state"
INSTALL_NONCE = "github_install_nonce"
STATE_MAX_AGE = 3600  # seconds: GitHub's manifest codes last an hour too
DEFAULT_NAME_LENGTH = 34  # GitHub's limit on App names


def _admin_only() -> Response | None:
    if not current_user.user.is_admin:
        return error_page(403, "Only administrators of this Envelope instance can manage its GitHub App.")
    return None


@bp.get("/admin/github-app")
@login_required
def status() -> Response | str:
    refused = _admin_only()
    if refused is not None:
        return refused
    settings = runtime().settings
    github_org = request.args.get("github_org", "").strip() or None
    with runtime().db.read() as db_session:
        app = github_app.current_app(db_session)
        report = github_app.app_status(db_session, settings)
    context = dict(app=app, installations=report["installations"], github_org=github_org or "",
                   webhook_url=settings.base_url + github_app.WEBHOOK_PATH, github_web=settings.github_web_url)
    if app is None:
        try:
            action = github_app.manifest_form_action(settings, github_org)
        except InvalidInput as exc:
            return error_page(400, str(exc))
        state = secrets.token_urlsafe(32)
        session[MANIFEST_STATE] = state
        name = f"Envelope {settings.base_url.split('://', 1)[-1]}"[:DEFAULT_NAME_LENGTH]
        context.update(form_action=f"{action}?state={state}",
                       manifest=json.dumps(github_app.manifest(settings, name)))
    response = Response(render_template("accounts/github_app.html", **context))
    # The manifest form is posted to GitHub, not here.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {settings.github_web_url}")
    return response


@bp.get(github_app.CREATED_PATH)
@login_required
def created() -> Response:
    """GitHub sends the administrator back here with a code, once."""
    refused = _admin_only()
    if refused is not None:
        return refused
    expected = session.pop(MANIFEST_STATE, None)
    state = request.args.get("state", "")
    if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return error_page(400, "GitHub's answer does not belong to an App creation started in this browser: "
                               "start again from Admin › GitHub App.")
    actor = user_label(current_user.user)
    try:
        app = github_app.create_app(runtime().db, runtime().settings, request.args.get("code", ""), actor=actor)
    except EnvelopeError as exc:
        return error_page(exc.status, str(exc))
    flash(f"The GitHub App {app.slug} is ready. Organization owners can now install it.", "success")
    return redirect(url_for("github_app.status"))


def install_state(org: str) -> str:
    """The `state` of an installation link: the organization, signed, with
    this session's nonce."""
    nonce = session.setdefault(INSTALL_NONCE, secrets.token_urlsafe(16))
    return _serializer().dumps({"org": org, "nonce": nonce})


@bp.get(github_app.INSTALLED_PATH)
@login_required
def installed() -> Response:
    """GitHub's setup URL: the owner comes back from installing the App."""
    try:
        data = _serializer().loads(request.args.get("state", ""), max_age=STATE_MAX_AGE)
        org = str(data["org"])
        fresh = hmac.compare_digest(str(data["nonce"]).encode(), str(session.get(INSTALL_NONCE, "")).encode())
        installation_id = int(request.args.get("installation_id", ""))
    except (BadSignature, KeyError, TypeError, ValueError):
        fresh = False
    if not fresh:
        return error_page(400, "This installation was not started from this browser's Envelope session: "
                               "start it again from your organization's GitHub page.")
    with runtime().db.read() as db_session:
        access = access_for(db_session, org, Capability.MANAGE_REPOSITORIES, to="install the GitHub App")
        organization_id = access.organization.id
    row = github_app.bind_installation(runtime().db, runtime().settings, organization_id, installation_id,
                                       actor=access.actor, oauth_code=request.args.get("code"))
    flash(f"The GitHub App is installed on {row.account_login}: choose the repositories to connect below.",
          "success")
    return redirect(url_for("repositories.index", org=org) + "#app")


@bp.post("/<org>/repositories/app")
@login_required
def connect(org: str) -> Response:
    form = request.form
    with runtime().db.read() as db_session:
        access = access_for(db_session, org, Capability.MANAGE_REPOSITORIES, to="connect GitHub repositories")
    try:
        installation_id = int(form.get("installation_id", ""))
    except ValueError:
        return error_page(400, "Choose an installation of the GitHub App.")
    full_name = form.get("full_name", "").strip()
    try:
        github_app.connect_repository(
            runtime().db, runtime().settings, access.organization, installation_id, full_name,
            projects=[p.strip() for p in form.get("projects", "").replace(",", "\n").splitlines() if p.strip()],
            actor=access.actor,
        )
    except EnvelopeError as exc:
        if exc.status == 404:
            raise
        flash(str(exc), "error")
        return redirect(url_for("repositories.index", org=org) + "#app")
    flash(f"Connected {full_name.lower()} through the GitHub App: its releases now publish here.", "success")
    return redirect(url_for("repositories.index", org=org))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime().settings.secret_key, salt="envelope github-app install")


