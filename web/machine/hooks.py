"""POST /hooks/github: GitHub's webhook receiver (logic in envelope.github.webhooks)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from envelope.github.webhooks import receive_webhook
from web.bodies import read_body
from web.runtime import runtime

bp = Blueprint("hooks", __name__)

# GitHub caps webhook payloads at 25 MB; the body is read before its signature
# can be checked, so anyone may send one: read no more than GitHub would send.
MAX_PAYLOAD = 25 * 1024**2  # bytes


@bp.post("/hooks/github")
def github() -> Response:
    rt = runtime()
    result = receive_webhook(
        rt.db,
        rt.settings.secret_key,
        event=request.headers.get("X-GitHub-Event", ""),
        delivery_id=request.headers.get("X-GitHub-Delivery", ""),
        signature=request.headers.get("X-Hub-Signature-256"),
        body=read_body(MAX_PAYLOAD, "Webhook payload"),
    )
    response = jsonify(message=result.message)
    response.status_code = result.status
    return response
