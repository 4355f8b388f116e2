"""The simple repository API: /{org}/simple/ and /{org}/simple/{project}/."""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, redirect, request

from envelope import index, upstream
from envelope.errors import InvalidInput, NotFound
from envelope.names import normalize
from web.auth import basic_auth
from web.errors import error_response
from web.negotiation import choose_format, is_json
from web.runtime import runtime

bp = Blueprint("simple", __name__)


@bp.get("/<org>/simple/")
def project_list(org: str) -> Response:
    auth = basic_auth(org)
    content_type = choose_format(request.headers.get("Accept"))
    if content_type is None:
        return _not_acceptable()
    rt = runtime()
    with rt.db.autocommit() as connection:
        serial = index.list_serial(connection, auth.organization.id, auth.principal)
    etag = f"{serial}-{auth.principal.restriction_key}-{content_type}"
    if _fresh(etag):
        return _not_modified(etag)
    body = index.cached_list_page(rt.db, rt.cache, auth.organization, auth.principal, serial, is_json(content_type))
    return _page(body, content_type, etag)


@bp.get("/<org>/simple/<project>/")
def project_detail(org: str, project: str) -> Response:
    auth = basic_auth(org)
    try:
        normalized = normalize(project)
    except InvalidInput:
        raise NotFound("Not Found") from None  # a name that cannot exist is as missing as any other
    if normalized != project:
        return redirect(f"/{org}/simple/{normalized}/", code=301)
    content_type = choose_format(request.headers.get("Accept"))
    if content_type is None:
        return _not_acceptable()
    rt = runtime()
    try:
        with rt.db.autocommit() as connection:
            project_id, serial = index.visible_project_serial(connection, auth.organization.id, auth.principal,
                                                              project)
        body = None
        if auth.principal.sees_every_version(normalized):
            tag = str(serial)
        else:  # the serial moves with versions this caller may not see: tag what it gets
            body = index.cached_detail_page(rt.db, rt.cache, project_id, serial, auth.principal,
                                            is_json(content_type))
            tag = index.body_tag(body)
        etag = f"{project_id}.{tag}-{auth.principal.restriction_key}-{content_type}"
        if _fresh(etag):
            return _not_modified(etag)
        if body is None:
            body = index.cached_detail_page(rt.db, rt.cache, project_id, serial, auth.principal,
                                            is_json(content_type))
    except NotFound:
        # Not a project this caller may read here: the organization's upstream, if it proxies the name.
        page = upstream.project_page(rt, auth.organization.id, auth.principal, project)
        etag = f"upstream.{page.serial}-{auth.principal.restriction_key}-{content_type}"
        if _fresh(etag):
            return _not_modified(etag)
        body = index.render_page(page.data, is_json(content_type))
    return _page(body, content_type, etag)


def _quoted(etag: str) -> str:
    """A compact opaque tag: serial, restriction and format hashed together."""
    return '"' + hashlib.sha256(etag.encode()).hexdigest()[:24] + '"'


def _fresh(etag: str) -> bool:
    return _quoted(etag)[1:-1] in request.if_none_match


def _not_modified(etag: str) -> Response:
    response = Response(status=304)
    _cache_headers(response, etag)
    return response


def _page(body: bytes, content_type: str, etag: str) -> Response:
    response = Response(body, content_type=content_type)
    _cache_headers(response, etag)
    return response


def _cache_headers(response: Response, etag: str) -> None:
    response.headers["ETag"] = _quoted(etag)
    # Pages differ per token and change on publish: any cache must revalidate.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Accept, Authorization"


def _not_acceptable() -> Response:
    return error_response(
        406,
        "Not Acceptable: this index serves text/html, application/vnd.pypi.simple.v1+html "
        "and application/vnd.pypi.simple.v1+json.",
    )
