"""The simple repository API: /{org}/simple/ and /{org}/simple/{project}/."""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, redirect, request

from envelope.index import pages as index
from envelope.upstream import pages as upstream_pages
from envelope.errors import InvalidInput, NotFound
from envelope.names import normalize
from web.machine.auth import basic_auth, confirm
from web.errors import error_response
from web.machine.negotiation import accepts_gzip, choose_format, is_json
from web.runtime import runtime

bp = Blueprint("simple", __name__)


@bp.get("/<org>/simple/")
def project_list(org: str) -> Response:
    caller = basic_auth(org)
    content_type = choose_format(request.headers.get("Accept"))
    if content_type is None:
        return _not_acceptable()
    rt = runtime()
    with rt.db.autocommit() as connection:
        serial, auth_epoch = index.list_serial(connection, caller.organization_id, caller)
    caller = confirm(org, caller, auth_epoch)
    etag = f"{serial}-{caller.restriction_key}-{content_type}"
    gz = accepts_gzip(request.headers.get("Accept-Encoding"))
    if _fresh(etag, gz):
        return _not_modified(etag, gz)
    body = index.cached_list_page(rt.db, rt.cache, caller.organization_id, caller, serial, is_json(content_type), gz)
    return _page(body, content_type, etag, gz)


@bp.get("/<org>/simple/<project>/")
def project_detail(org: str, project: str) -> Response:
    caller = basic_auth(org)
    try:
        normalized = normalize(project)
    except InvalidInput:
        raise NotFound("Not Found") from None  # a name that cannot exist is as missing as any other
    if normalized != project:
        return redirect(f"/{org}/simple/{normalized}/", code=301)
    content_type = choose_format(request.headers.get("Accept"))
    if content_type is None:
        return _not_acceptable()
    gz = accepts_gzip(request.headers.get("Accept-Encoding"))
    rt = runtime()
    with rt.db.autocommit() as connection:
        state = index.project_state(connection, caller.organization_id, normalized)
    caller = confirm(org, caller, state.auth_epoch)
    project_id, serial = state.project_id, state.serial
    if project_id is not None and caller.may_read_project(normalized):
        body = None
        if caller.sees_every_version(normalized):
            tag = str(serial)
        else:  # the serial moves with versions this caller may not see: tag what it gets
            body = index.cached_detail_page(rt.db, rt.cache, project_id, serial, caller, is_json(content_type), gz)
            tag = index.body_tag(body)
        etag = f"{project_id}.{tag}-{caller.restriction_key}-{content_type}"
        if _fresh(etag, gz):
            return _not_modified(etag, gz)
        if body is None:
            body = index.cached_detail_page(rt.db, rt.cache, project_id, serial, caller, is_json(content_type), gz)
    else:
        # Not a project this caller may read here: the organization's upstream, if it proxies the name.
        page = upstream_pages.project_page(rt, caller.organization_id, caller, project)
        etag = f"upstream.{page.serial}-{caller.restriction_key}-{content_type}"
        if _fresh(etag, gz):
            return _not_modified(etag, gz)
        body = page.body(is_json(content_type), gz)
    return _page(body, content_type, etag, gz)


def _quoted(etag: str, gz: bool) -> str:
    """A compact opaque tag: serial, restriction and format hashed together;
    the gzip representation's carries a "-gzip" suffix (RFC 9110 §8.8.3: each
    encoding of a page is its own representation, with its own tag)."""
    return '"' + hashlib.sha256(etag.encode()).hexdigest()[:24] + ('-gzip"' if gz else '"')


def _fresh(etag: str, gz: bool) -> bool:
    return _quoted(etag, gz)[1:-1] in request.if_none_match


def _not_modified(etag: str, gz: bool) -> Response:
    response = Response(status=304)
    _cache_headers(response, etag, gz)
    return response


def _page(body: bytes, content_type: str, etag: str, gz: bool) -> Response:
    response = Response(body, content_type=content_type)
    if gz:
        response.headers["Content-Encoding"] = "gzip"
    _cache_headers(response, etag, gz)
    return response


def _cache_headers(response: Response, etag: str, gz: bool) -> None:
    response.headers["ETag"] = _quoted(etag, gz)
    # Pages differ per token and change on publish: any cache must revalidate.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Accept, Authorization, Accept-Encoding"


def _not_acceptable() -> Response:
    return error_response(
        406,
        "Not Acceptable: this index serves text/html, application/vnd.pypi.simple.v1+html "
        "and application/vnd.pypi.simple.v1+json.",
    )
