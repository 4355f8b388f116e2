"""Liveness and readiness: the database answers."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
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
