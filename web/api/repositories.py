"""API: GitHub repository connections, their sync runs, sync now."""
from __future__ import annotations

from flask import Response, jsonify

from envelope.orgs.capabilities import Capability
from envelope.github import repositories
from envelope.github.sync_status import recent_runs
from web.api import authorised_body, bp, org_access, shapes, strings, text

from web.runtime import runtime
from web.shared import HISTORY_LENGTH, webhook_url


@bp.get("/v1/orgs/<org>/repositories")
def list_repositories(org: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.SEE_REPOSITORIES, to="see repositories")
        rows = repositories.list_repositories(session, access.organization)
        return jsonify(repositories=[shapes.repository(c) for c in rows])


@bp.post("/v1/orgs/<org>/repositories")
def connect(org: str) -> tuple[Response, int]:
    data = authorised_body(org, Capability.MANAGE_REPOSITORIES, to="connect GitHub repositories")
    full_name = text(data, "full_name", required=True)
    token, projects = text(data, "github_token"), strings(data, "projects")
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_REPOSITORIES, to="connect GitHub repositories")
        new = repositories.add_repository(
            session, runtime().settings.secret_key, access.organization, full_name.strip(),
            github_token=(token or "").strip() or None, projects=projects, actor=access.actor,
        )
        payload = {
            "repository": shapes.repository(new.connection),
            "webhook_url": webhook_url(),
            "webhook_secret": new.webhook_secret,
        }
    return jsonify(payload), 201


@bp.get("/v1/orgs/<org>/repositories/<owner>/<repo>")
def get_repository(org: str, owner: str, repo: str) -> Response:
    with runtime().db.read() as session:
        access = org_access(session, org, Capability.SEE_REPOSITORIES, to="see repositories")
        connection = repositories.find_org_connection(session, access.organization, f"{owner}/{repo}")
        return jsonify(
            repository=shapes.repository(connection),
            runs=recent_runs(session, connection, limit=HISTORY_LENGTH),
        )


@bp.post("/v1/orgs/<org>/repositories/<owner>/<repo>/sync")
def sync_now(org: str, owner: str, repo: str) -> tuple[Response, int]:
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.SYNC, to="start a sync")
        connection = repositories.find_org_connection(session, access.organization, f"{owner}/{repo}")
        run = repositories.queue_manual_sync(session, connection, actor=access.actor)
        return jsonify(run_id=run.id, status=run.status), 202


@bp.delete("/v1/orgs/<org>/repositories/<owner>/<repo>")
def remove(org: str, owner: str, repo: str) -> tuple[str, int]:
    with runtime().db.write() as session:
        access = org_access(session, org, Capability.MANAGE_REPOSITORIES, to="remove GitHub connections")
        connection = repositories.find_org_connection(session, access.organization, f"{owner}/{repo}")
        repositories.remove_connection(session, connection, actor=access.actor)
    return "", 204
