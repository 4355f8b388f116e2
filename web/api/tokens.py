"""API: access tokens of an organization."""
from __future__ import annotations

from flask import Response, jsonify

from envelope.orgs.capabilities import Capability
from envelope.orgs import member_tokens as org_tokens
from envelope.orgs import tokens as access_tokens
from envelope.models import TokenScope
from envelope.models.base import utcnow
from web.api import authorised_body, bp, flag, org_access, shapes, strings, text
from web.runtime import runtime


@bp.get("/v1/orgs/<org>/tokens")
def list_tokens(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.OWN_TOKENS, to="see tokens")
        tokens = org_tokens.visible_tokens(session, access)
        members, now = org_tokens.member_user_ids(session, access), utcnow()
        return jsonify(tokens=[shapes.token(t, org_tokens.token_status(t, members, now)) for t in tokens])


@bp.get("/v1/orgs/<org>/tokens/current")
def current_token(org: str) -> Response:
    """The token sending this request, as its holder may see it (scope,
    projects, expiry): what `envelope doctor` reads to say why a project is
    out of reach. Any live token of the organization, restricted ones too:
    it tells only what the token itself is."""
    with runtime().db.read() as session:
        access = org_access(session, org)
        token = org_tokens.calling_token(session, access)
        return jsonify(shapes.token(token, "active"))


@bp.post("/v1/orgs/<org>/tokens")
def create_token(org: str) -> tuple[Response, int]:
    data = authorised_body(org)  # create_token says why a token may not
    name = text(data, "name", required=True)
    scope = text(data, "scope", default=TokenScope.read)
    projects = strings(data, "projects")
    expires = access_tokens.parse_expiry(text(data, "expires", default="30d"))
    deploy = flag(data, "deploy")
    with runtime().db.write() as session:
        access = org_access(session, org)
        issued = access_tokens.create_token(
            session, access, name=name, scope=scope, projects=projects, expires=expires,
            user=None if deploy else access.user,
        )
        return jsonify(token=shapes.token(issued.token, "active"), secret=issued.secret), 201


@bp.post("/v1/orgs/<org>/tokens/<int:token_id>/revoke")
def revoke_token(org: str, token_id: int) -> Response:
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.OWN_TOKENS, to="revoke tokens")
        token = org_tokens.revoke_member_token(session, access, token_id)
        return jsonify(shapes.token(token, "revoked"))
