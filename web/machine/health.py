"""Liveness and readiness: the database answers."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, url_for
from sqlalchemy import text

from envelope.heartbeats import last_heartbeat
from web.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    with runtime().db.read() as session:
        session.execute(text("SELECT 1"))
        worker_seen = last_heartbeat(session, "worker")
    return jsonify(
        status="ok", worker_last_seen=worker_seen.isoformat() if worker_seen else None
    )


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it unprompted; without this it would look like an organization."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
