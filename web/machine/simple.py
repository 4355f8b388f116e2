"""The simple repository API: /{org}/simple/ and /{org}/simple/{project}/.

A page is answered by list_answer() and detail_answer(), which need no Flask
request: the Flask views below call them, and so does web/machine/thin.py,
which answers the same URLs straight from WSGI when the credentials are in
the auth cache (pip and uv fetching pages), so both paths send the same
bytes by construction, and count the request the same way (envelope.usage).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Blueprint, Response, redirect, request
from werkzeug.http import parse_etags

from envelope import usage
from envelope.errors import InvalidInput, NotFound
from envelope.index import pages as index
from envelope.names import normalize
from envelope.orgs.identity import Caller
from envelope.runtime import Runtime
from envelope.upstream import pages as upstream_pages
from web.errors import error_response
from web.machine.auth import Confirm, basic_auth, confirm
from web.machine.negotiation import accepts_gzip, choose_format, is_json
from web.runtime import runtime

bp = Blueprint("simple", __name__)

@bp.get("/<org>/simple/")
def project_list(org: str) -> Response:
    caller = basic_auth(org)
    content_type = choose_format(request.headers.get("Accept"))
    if content_type is None:
        return _not_acceptable()
    return list_answer(runtime(), caller, lambda c, epoch: confirm(org, c, epoch), content_type,
                       request.headers.get("Accept-Encoding"), request.headers.get("If-None-Match"))


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
    rt = runtime()
    accept_encoding, if_none_match = request.headers.get("Accept-Encoding"), request.headers.get("If-None-Match")

    def upstream(confirmed: Caller) -> Response | None:
        return upstream_answer(rt, confirmed, project, content_type, accept_encoding, if_none_match)

    return detail_answer(rt, caller, lambda c, epoch: confirm(org, c, epoch), normalized, content_type,
                         accept_encoding, if_none_match, upstream)


def list_answer(rt: Runtime, caller: Caller, confirm_caller: Confirm, content_type: str,
                accept_encoding: str | None, if_none_match: str | None) -> Response:
    """The /simple/ page (or its 304) for `caller`, confirmed in the
    statement that reads the page's serial."""
    with rt.db.hot() as connection:
        serial, auth_epoch = index.list_serial(connection, caller.organization_id, caller)
    caller = confirm_caller(caller, auth_epoch)
    usage.record_index_request(rt.db, caller.organization_id)  # a dict update; written off the request path
    etag = f"{serial}-{caller.restriction_key}-{content_type}"
    gz = accepts_gzip(accept_encoding)
    if _fresh(etag, gz, if_none_match):
        return _not_modified(etag, gz)
    body = index.cached_list_page(rt.db, rt.cache, caller.organization_id, caller, serial, is_json(content_type), gz)
    return _page(body, content_type, etag, gz)


def detail_answer(rt: Runtime, caller: Caller, confirm_caller: Confirm, normalized: str, content_type: str,
                  accept_encoding: str | None, if_none_match: str | None,
                  upstream: Callable[[Caller], Response | None]) -> Response | None:
    """A private project page (or its 304); `upstream` answers, with the
    confirmed caller, for a name this caller may not read here, or returns
    None to leave the request unanswered (the thin path leaves it to Flask,
    which counts it then)."""
    gz = accepts_gzip(accept_encoding)
    with rt.db.hot() as connection:
        state = index.project_state(connection, caller.organization_id, normalized)
    caller = confirm_caller(caller, state.auth_epoch)
    project_id, serial = state.project_id, state.serial
    if project_id is None or not caller.may_read_project(normalized):
        return _counted(rt, caller, upstream)
    usage.record_index_request(rt.db, caller.organization_id)
    body = None
    if caller.sees_every_version(normalized):
        tag = str(serial)
    else:  # the serial moves with versions this caller may not see: tag what it gets
        body = index.cached_detail_page(rt.db, rt.cache, project_id, serial, caller, is_json(content_type), gz)
        tag = index.body_tag(body)
    etag = f"{project_id}.{tag}-{caller.restriction_key}-{content_type}"
    if _fresh(etag, gz, if_none_match):
        return _not_modified(etag, gz)
    if body is None:
        body = index.cached_detail_page(rt.db, rt.cache, project_id, serial, caller, is_json(content_type), gz)
    return _page(body, content_type, etag, gz)


def upstream_answer(rt: Runtime, caller: Caller, normalized: str, content_type: str, accept_encoding: str | None,
                    if_none_match: str | None, *, stored_only: bool = False) -> Response | None:
    """The organization's upstream page for a name this caller may not read
    here (or its 304), cached like a private page (ProxiedPage.body). With
    `stored_only`, None when it would wait for the upstream (a page never
    fetched, or a "no such page" past its freshness); a stale stored page is
    answered, and the worker asked to refresh it."""
    page = upstream_pages.project_page(rt, caller.organization_id, caller, normalized, wait=not stored_only)
    if page is None:
        return None
    gz = accepts_gzip(accept_encoding)
    etag = f"upstream.{page.serial}-{caller.restriction_key}-{content_type}"
    if _fresh(etag, gz, if_none_match):
        return _not_modified(etag, gz)
    return _page(page.body(is_json(content_type), gz), content_type, etag, gz)


def _counted(rt: Runtime, caller: Caller, upstream: Callable[[Caller], Response | None]) -> Response | None:
    """`upstream`'s answer, counted as an index request (its 404 too) unless
    it left the request to another path, which counts it."""
    answered = True
    try:
        response = upstream(caller)
        answered = response is not None
        return response
    finally:
        if answered:
            usage.record_index_request(rt.db, caller.organization_id)


def _quoted(etag: str, gz: bool) -> str:
    """A compact opaque tag: serial, restriction and format hashed together;
    the gzip representation's carries a "-gzip" suffix (RFC 9110 §8.8.3: each
    encoding of a page is its own representation, with its own tag)."""
    return '"' + hashlib.sha256(etag.encode()).hexdigest()[:24] + ('-gzip"' if gz else '"')


def _fresh(etag: str, gz: bool, if_none_match: str | None) -> bool:
    return bool(if_none_match) and _quoted(etag, gz)[1:-1] in parse_etags(if_none_match)


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
