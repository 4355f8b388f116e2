"""/{org}/tokens: list, create (secret shown once) and revoke access tokens."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from envelope.orgs.capabilities import Capability
from envelope.orgs import member_tokens as org_tokens
from envelope.orgs import tokens as access_tokens
from envelope.errors import EnvelopeError
from envelope.index.snippets import install_snippets, public_packages, publish_snippets
from envelope.models import TokenScope
from envelope.models.base import utcnow
from web.pages.org_pages import access_for, html_pages, no_store
from web.runtime import runtime
from web.shared import public_base_url

bp = html_pages(Blueprint("tokens", __name__))


@bp.get("/<org>/tokens")
@login_required
def index(org: str) -> str:
    return _list_page(org, form={}, error=None)[0]


@bp.post("/<org>/tokens")
@login_required
def create(org: str) -> Response:
    form = request.form
    try:
        with runtime().db.write() as session:
            access = access_for(session, org, Capability.OWN_TOKENS, to="create tokens")
            issued = access_tokens.create_token(
                session,
                access,
                name=form.get("name", ""),
                scope=form.get("scope", TokenScope.read),
                projects=form.get("projects", ""),
                expires=access_tokens.resolve_expiry(form.get("expires"), form.get("expires_on")),
                user=None if form.get("owner") == "deploy" else access.user,
            )
            token, organization = issued.token, access.organization
            advice = public_packages(organization.name, organization.upstream_url)
            project = token.restrictions[0]["project"] if token.restrictions else None
    except EnvelopeError as exc:
        page, status = _list_page(org, form=form, error=str(exc), status=exc.status)
        return Response(page, status=status)
    page = render_template(
        "ui/token_created.html",
        org=organization,
        token=token,
        secret=issued.secret,
        snippets=install_snippets(public_base_url(), organization.name, token=issued.secret, project=project),
        publish=(publish_snippets(public_base_url(), organization.name, token=issued.secret)
                 if token.scope == TokenScope.upload else []),
        public_packages=advice,
    )
    return no_store(Response(page))


@bp.post("/<org>/tokens/<int:token_id>/revoke")
@login_required
def revoke(org: str, token_id: int) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.OWN_TOKENS, to="see tokens")
        token = org_tokens.revoke_member_token(session, access, token_id)
        name = token.name
    # Verified credentials are cached for ENVELOPE_AUTH_CACHE_SECONDS (5 s by default).
    flash(f"Revoked token {name!r}: it stops working within a few seconds.", "success")
    return redirect(url_for("tokens.index", org=org))


def _list_page(org: str, *, form, error: str | None, status: int = 200) -> tuple[str, int]:
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.OWN_TOKENS, to="revoke tokens")
        tokens = org_tokens.visible_tokens(session, access)
        members = org_tokens.member_user_ids(session, access)
        now = utcnow()
        page = render_template(
            "ui/tokens.html",
            org=access.organization,
            access=access,
            tokens=[(t, org_tokens.token_status(t, members, now)) for t in tokens],
            form=form,
            error=error,
            presets=list(access_tokens.EXPIRY_PRESETS),
            can_upload=access.allows(Capability.UPLOAD),
            is_owner=access.allows(Capability.MANAGE_MEMBERS),
            today=now.date().isoformat(),
        )
    return page, status
