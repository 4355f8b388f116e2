"""PEP 740's integrity endpoint: GET /{org}/integrity/{project}/{version}/{filename}/provenance.

The provenance object of a file uploaded with verified attestations, behind
the same access checks as the file (envelope.index.integrity)."""
from __future__ import annotations

from flask import Blueprint, Response

from envelope.index import pages as index
from envelope.index.integrity import INTEGRITY_CONTENT_TYPE, provenance_document
from web.machine.auth import basic_auth, confirm
from web.runtime import runtime

bp = Blueprint("integrity", __name__)


@bp.get("/<org>/integrity/<project>/<version>/<filename>/provenance")
def provenance(org: str, project: str, version: str, filename: str) -> Response:
    caller = basic_auth(org)
    rt = runtime()
    with rt.db.hot() as connection:
        _, auth_epoch = index.organization_state(connection, caller.organization_id)
    caller = confirm(org, caller, auth_epoch)
    with rt.db.read() as session:
        body = provenance_document(session, caller.organization_id, caller, project, version, filename)
    response = Response(body, content_type=INTEGRITY_CONTENT_TYPE)
    # What a token may see differs per token: no shared cache may keep it.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization"
    return response
