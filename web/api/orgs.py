"""API: organizations, members, invitations, audit log."""
from __future__ import annotations

from flask import Response, g, jsonify, request, url_for
from flask_login import current_user

from envelope import plans, quotas
from envelope.models.base import utcnow
from envelope.orgs import organizations
from envelope.orgs import invitations
from envelope.orgs import membership
from envelope.orgs.capabilities import Capability
from envelope.audit_log import AuditFilter, list_events
from envelope.errors import Forbidden
from envelope.models import Role
from envelope.orgs.tokens import token_organization
from web.api import authorised_body, body, bp, org_access, role_field, shapes, text


from web.runtime import runtime
from web.shared import public_base_url, send_invitation

AUDIT_PAGE_SIZE = 100  # events


@bp.get("/v1/orgs")
def list_orgs() -> Response:
    with runtime().db.read() as session:
        if g.api_token is not None:
            home = token_organization(session, g.api_token)
            access = org_access(session, home)
            orgs = [(access.organization, access.role)]
        else:
            orgs = membership.organizations_of(session, current_user.user)
        return jsonify(organizations=[shapes.organization(o, r) for o, r in orgs])


@bp.post("/v1/orgs")
def create_org() -> tuple[Response, int]:
    if g.api_token is not None:
        raise Forbidden("Access tokens cannot create organizations; sign in to the web UI.")
    name = text(body(), "name", required=True)
    with runtime().db.write() as session:
        org = organizations.create_organization(session, name, owner=current_user.user)
        return jsonify(shapes.organization(org, Role.owner)), 201


@bp.get("/v1/orgs/<org>")
def get_org(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org)
        return jsonify(shapes.organization(access.organization, access.role))


@bp.get("/v1/orgs/<org>/usage")
def usage(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.SEE_SETTINGS, to="see the usage")
        limits = quotas.get_limits(session, access.organization.id)
        used = quotas.org_usage(session, access.organization.id)
        settings = runtime().settings
        billing = None
        if settings.billing_enabled:
            from envelope.billing.subscriptions import billing_state

            billing = billing_state(session, settings, access.organization.id).json()
        return jsonify(
            month=used.month, usage=quotas.usage_json(used), limits=quotas.limits_json(limits),
            plan=plans.plan_of(session, access.organization.id),
            resets=shapes.when(quotas.next_month(utcnow())),
            warnings=[w.sentence for w in quotas.warnings(limits, used)],
            billing=billing,
        )


@bp.get("/v1/orgs/<org>/members")
def list_members(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.SEE_MEMBERS, to="see the members")
        members = membership.list_members(session, access.organization)
        return jsonify(members=[shapes.member(m) for m in members])


@bp.patch("/v1/orgs/<org>/members/<username>")
def change_role(org: str, username: str) -> Response:
    role = role_field(authorised_body(org, Capability.MANAGE_MEMBERS, to="change roles"))
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_MEMBERS, to="change roles")
        return jsonify(shapes.member(membership.change_role(session, access, username, role)))


@bp.delete("/v1/orgs/<org>/members/<username>")
def remove_member(org: str, username: str) -> tuple[str, int]:
    """Owners remove anyone; a member removes themselves (leaves)."""
    with runtime().db.write() as session:
        # Refused before the member is looked up: the answer tells a token nothing.
        access = org_access(session, org, Capability.SEE_MEMBERS, to="change the members")
        membership.remove_member(session, access, username)
    return "", 204


@bp.get("/v1/orgs/<org>/invitations")
def list_invitations(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.MANAGE_MEMBERS, to="see invitations")
        pending = invitations.pending_invitations(session, access.organization)
        return jsonify(invitations=[shapes.invitation(i) for i in pending])


@bp.post("/v1/orgs/<org>/invitations")
def invite(org: str) -> tuple[Response, int]:
    data = authorised_body(org, Capability.MANAGE_MEMBERS, to="invite members")
    email, role = text(data, "email", required=True), role_field(data)
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_MEMBERS, to="invite members")
        new = invitations.invite(session, access, email, role)
        link = public_base_url() + url_for("invitations.show", token=new.secret)
        subject, text_body = invitations.invitation_email(access.organization, role, access.user, link)
        payload, email = {**shapes.invitation(new.invitation), "link": link}, new.invitation.email
        send_invitation(session, email, subject, text_body)
    return jsonify(payload), 201


@bp.delete("/v1/orgs/<org>/invitations/<int:invitation_id>")
def revoke_invitation(org: str, invitation_id: int) -> tuple[str, int]:
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_MEMBERS, to="revoke invitations")
        invitations.revoke_invitation(session, access, invitation_id)
    return "", 204


@bp.get("/v1/orgs/<org>/audit")
def audit(org: str) -> Response:
    page = max(request.args.get("page", 1, type=int), 1)
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.SEE_AUDIT, to="read the audit log")
        filters = AuditFilter.from_args(request.args)
        events, more = list_events(session, access.organization.id, filters, page=page, per_page=AUDIT_PAGE_SIZE)
        return jsonify(events=[shapes.audit_event(e) for e in events], page=page, more=more)
