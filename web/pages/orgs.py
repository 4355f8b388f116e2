"""Organizations: the list, creation, the dashboard, members and invitations."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from envelope import plans, quotas
from envelope.orgs import organizations
from envelope.packaging import catalog
from envelope.orgs import invitations
from envelope.orgs import membership
from envelope.models.base import utcnow
from envelope.lifecycle import upstream_cache
from envelope.upstream import hold
from envelope.upstream import proxy as upstream
from envelope.upstream.client import without_credentials
from envelope.orgs.capabilities import Capability
from envelope.errors import EnvelopeError, InvalidInput
from envelope.models import Role

from web.pages.org_pages import access_for, html_pages, no_store, signed_in_user
from web.runtime import runtime
from web.shared import public_base_url, send_invitation

bp = html_pages(Blueprint("orgs", __name__))
MAX_QUERY_LENGTH = 200  # characters


@bp.route("/orgs/new", methods=["GET", "POST"])
@login_required
def new() -> Response | str:
    name, error = request.form.get("name", "").strip(), None
    if request.method == "POST":
        try:
            with runtime().db.write() as session:
                org = organizations.create_organization(session, name, owner=signed_in_user())
            flash(f"Created {org.name}. You are its owner.", "success")
            return redirect(url_for("orgs.dashboard", org=org.name))
        except EnvelopeError as exc:
            error = str(exc)
    return render_template("ui/orgs_new.html", name=name, error=error), 400 if error else 200


@bp.get("/<org>/")
@login_required
def dashboard(org: str) -> str:
    query = request.args.get("q", "")[:MAX_QUERY_LENGTH]
    with runtime().db.read() as session:
        access = access_for(session, org)
        projects = catalog.list_projects(session, access.organization, access.principal, query)
        return render_template(
            "ui/org_dashboard.html", org=access.organization, access=access, projects=projects,
            quota_warnings=quotas.warnings_for(session, access.organization.id),
            query=query, index_url=f"{public_base_url()}/{org}/simple/",
        )


@bp.get("/<org>/members")
@login_required
def members(org: str) -> str:
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_MEMBERS, to="see the members")
        pending = invitations.pending_invitations(session, access.organization) if access.allows(Capability.MANAGE_MEMBERS) else []
        return render_template(
            "ui/org_members.html", org=access.organization, access=access, roles=list(Role),
            is_owner=access.allows(Capability.MANAGE_MEMBERS),
            members=membership.list_members(session, access.organization), invitations=pending,
        )


@bp.post("/<org>/members/<username>/role")
@login_required
def change_role(org: str, username: str) -> Response:
    role = _role(request.form.get("role"))
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.MANAGE_MEMBERS, to="change roles")
        membership.change_role(session, access, username, role)
    flash(f"{username} is now {role.with_article}.", "success")
    return redirect(url_for("orgs.members", org=org))


@bp.post("/<org>/members/<username>/remove")
@login_required
def remove(org: str, username: str) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.MANAGE_MEMBERS, to="remove members")
        membership.remove_member(session, access, username)
    flash(f"Removed {username} from {org}; their tokens here are revoked.", "success")
    return redirect(url_for("orgs.members", org=org))


@bp.post("/<org>/leave")
@login_required
def leave(org: str) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org)
        membership.remove_member(session, access, signed_in_user().username)
    flash(f"You left {org}.", "success")
    return redirect(url_for("accounts.home"))


@bp.post("/<org>/invitations")
@login_required
def invite(org: str) -> Response:
    role = _role(request.form.get("role"))
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.MANAGE_MEMBERS, to="invite members")
        new = invitations.invite(session, access, request.form.get("email", ""), role)
        link = public_base_url() + url_for("invitations.show", token=new.secret)
        subject, text_body = invitations.invitation_email(access.organization, role, access.user, link)
        email, organization = new.invitation.email, access.organization
        send_invitation(session, email, subject, text_body)
    page = render_template("ui/invitation_sent.html", org=organization, email=email, role=role, link=link)
    return no_store(Response(page))


@bp.post("/<org>/invitations/<int:invitation_id>/revoke")
@login_required
def revoke_invitation(org: str, invitation_id: int) -> Response:
    with runtime().db.write() as session:
        access = access_for(session, org, Capability.MANAGE_MEMBERS, to="revoke invitations")
        invitation = invitations.revoke_invitation(session, access, invitation_id)
        email = invitation.email
    flash(f"Withdrew the invitation to {email}.", "success")
    return redirect(url_for("orgs.members", org=org))


@bp.route("/<org>/proxy", methods=["GET", "POST"])
@login_required
def proxy(org: str) -> Response | str:
    """The upstream proxy's settings: members see them, owners change them."""
    rt, error, submitted = runtime(), None, None
    if request.method == "POST":
        try:
            with rt.db.write() as session:
                access = access_for(session, org, Capability.MANAGE_SETTINGS, to="change the upstream proxy")
                upstream.change_settings(
                    session, access, rt.settings, enabled=request.form.get("enabled") == "on",
                    upstream_url=request.form.get("upstream_url", ""),
                    reserved=request.form.get("reserved", "").splitlines(),
                    # Absent (a form from before the field): left as it is.
                    min_age=hold.parse_min_age(request.form["min_age"]) if "min_age" in request.form else None,
                    cache_budget=upstream_cache.Budget(
                        upstream_cache.parse_max_size(request.form["cache_max_size"]),
                        upstream_cache.parse_max_age(request.form.get("cache_max_age", "")),
                    ) if "cache_max_size" in request.form else None,
                )
            flash("Saved the upstream proxy settings.", "success")
            return redirect(url_for("orgs.proxy", org=org))
        except InvalidInput as exc:
            # Shown again as typed, so nothing is lost, but without credentials.
            error, submitted = str(exc), {
                "enabled": request.form.get("enabled") == "on",
                "upstream_url": without_credentials(request.form.get("upstream_url", "")),
                "reserved": request.form.get("reserved", ""),
                "min_age": request.form.get("min_age", "")[:20],
                "cache_max_size": request.form.get("cache_max_size", "")[:20],
                "cache_max_age": request.form.get("cache_max_age", "")[:20],
            }
    with rt.db.read() as session:
        access = access_for(session, org, Capability.SEE_SETTINGS, to="see the upstream proxy")
        organization = access.organization
        shown = submitted or {
            "enabled": organization.upstream_url is not None,
            "upstream_url": organization.upstream_url or "",
            "reserved": "\n".join(organization.reserved_names or []),
            "min_age": hold.format_min_age(organization.upstream_min_age),
            "cache_max_size": upstream_cache.format_max_size(organization.upstream_cache_max_bytes),
            "cache_max_age": upstream_cache.format_max_age(organization.upstream_cache_max_age),
        }
        held = hold.held_now(session, organization.id, utcnow())
        page = render_template(
            "ui/org_proxy.html", org=organization, access=access, error=error, shown=shown,
            is_owner=access.allows(Capability.MANAGE_MEMBERS), default_upstream=upstream.DEFAULT_UPSTREAM,
            held=held, min_age=hold.format_min_age(organization.upstream_min_age),
            budget=upstream_cache.budget_of(organization), cached=quotas.upstream_cached(session, organization.id),
            format_bytes=quotas.format_bytes,
        )
    return page, 400 if error else 200


@bp.get("/<org>/usage")
@login_required
def usage(org: str) -> str:
    """What the organization stores and downloaded this month, against its limits (members see it)."""
    with runtime().db.read() as session:
        access = access_for(session, org, Capability.SEE_SETTINGS, to="see the usage")
        limits = quotas.get_limits(session, access.organization.id)
        used = quotas.org_usage(session, access.organization.id)
        return render_template(
            "ui/org_usage.html", org=access.organization, access=access, limits=limits, used=used,
            rows=quotas.rows(limits, used), warnings=quotas.warnings(limits, used),
            plan=plans.plan_of(session, access.organization.id),
            resets=quotas.next_month(utcnow()), format_bytes=quotas.format_bytes,
        )


def _role(value: str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Invalid role {value!r}: use one of {roles}.") from None
