"""PyPI's JSON API: /{org}/pypi/{project}/json and /{org}/pypi/{project}/{version}/json.

Authentication, redirects, 404s and conditional requests behave as on the
project's simple page; the document itself is envelope.index.pypi_json's.
Names only the organization's upstream proxy knows answer 404 (docs/index-api.md).
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, redirect, request

from envelope.errors import InvalidInput, NotFound
from envelope.index import pages as index
from envelope.index import pypi_json
from envelope.names import normalize
from web.machine.auth import basic_auth, confirm
from web.machine.negotiation import accepts_gzip
from web.runtime import runtime

bp = Blueprint("pypi_json", __name__)

CONTENT_TYPE = "application/json"


@bp.get("/<org>/pypi/<project>/json")
@bp.get("/<org>/pypi/<project>/<version>/json")
def project_json(org: str, project: str, version: str | None = None) -> Response:
    caller = basic_auth(org)
    try:
        normalized = normalize(project)
    except InvalidInput:
        raise NotFound("Not Found") from None  # a name that cannot exist is as missing as any other
    if normalized != project:
        suffix = f"{index.path_segment(version)}/json" if version is not None else "json"
        return redirect(f"/{org}/pypi/{normalized}/{suffix}", code=301)
    wanted = pypi_json.parse_version(version) if version is not None else None
    rt = runtime()
    with rt.db.hot() as connection:
        state = index.project_state(connection, caller.organization_id, normalized)
    caller = confirm(org, caller, state.auth_epoch)
    if state.project_id is None or not caller.may_read_project(normalized):
        raise NotFound("Not Found")
    gz = accepts_gzip(request.headers.get("Accept-Encoding"))
    links = pypi_json.Links(rt.settings.base_url, caller.organization_name or org)

    def render() -> bytes:
        return pypi_json.cached_project_json(
            rt.db, rt.storage, rt.cache, state.project_id, state.serial, caller, links, wanted, gz
        )

    body = None
    if caller.sees_every_version(normalized):
        tag = str(state.serial)
    else:  # the serial moves with versions this caller may not see: tag what it gets
        body = render()
        tag = index.body_tag(body)
    etag = _quoted(f"{state.project_id}.{tag}-{caller.restriction_key}-{wanted or ''}", gz)
    if etag[1:-1] in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(body if body is not None else render(), content_type=CONTENT_TYPE)
        if gz:
            response.headers["Content-Encoding"] = "gzip"
    _cache_headers(response, etag)
    return response


def _quoted(etag: str, gz: bool) -> str:
    """As on the simple pages: the gzip representation's tag has a "-gzip" suffix."""
    return '"' + hashlib.sha256(f"pypi-json:{etag}".encode()).hexdigest()[:24] + ('-gzip"' if gz else '"')


def _cache_headers(response: Response, etag: str) -> None:
    """As on the simple pages: documents differ per token and change on
    publish, so any cache must revalidate."""
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization, Accept-Encoding"
