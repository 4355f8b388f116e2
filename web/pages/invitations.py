"""/invitations/<token>: see an invitation and accept it.

Signed-out visitors get links to sign in or sign up that come back here;
sign-up gets ``?invitation=<token>`` so it works even while sign-up is closed
(see envelope.orgs.invitations.invitation_for_signup)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from envelope.orgs import invitations
from envelope.models import Membership
from web.pages.org_pages import html_pages, signed_in_user
from web.runtime import runtime

bp = html_pages(Blueprint("invitations", __name__))


@bp.get("/invitations/<token>")
def show(token: str) -> Response:
    with runtime().db.read() as session:
        invitation = invitations.find_invitation(session, token)
        problem = invitations.invitation_problem(invitation)
        member = wrong_account = None
        if current_user.is_authenticated:
            wrong_account = invitations.wrong_account_problem(invitation, signed_in_user())
            member = session.scalar(
                select(Membership).where(
                    Membership.organization_id == invitation.organization_id,
                    Membership.user_id == signed_in_user().id,
                )
            )
        page = render_template(
            "ui/invitation.html",
            invitation=invitation,
            org_name=invitation.organization.name,
            problem=problem,
            wrong_account=wrong_account,
            member=member,
            here=url_for("invitations.show", token=token),
            token=token,
        )
    response = Response(page, status=410 if problem else 403 if wrong_account else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/invitations/<token>")
@login_required
def accept(token: str) -> Response:
    with runtime().db.write() as session:
        joined = invitations.accept_invitation(session, token, signed_in_user())
        org_name, role = joined.organization.name, joined.role
    flash(f"Welcome to {org_name}: you are a {role.value}.", "success")
    return redirect(url_for("orgs.dashboard", org=org_name))
