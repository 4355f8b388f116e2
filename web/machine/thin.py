"""The thin path: GET and HEAD of index pages (/{org}/simple/ and
/{org}/simple/{project}/) and of files (/{org}/files/{sha256}/{filename},
`.metadata` included) answered straight from WSGI, without Flask's request
context, sessions, limiter and routing hooks.

On an index page or a file's authorisation (nginx then sends the bytes),
Flask's machinery cost more than the answer itself (bench/README.md). Only
the common case takes this path: Basic credentials the auth cache already
verified, a private page or file or a stored proxied page, an acceptable
format, local storage. It calls the views' own functions (web.machine.simple's
list_answer, detail_answer and upstream_answer, web.machine.files'
file_answer: the auth cache, the serial and file lookups, the page cache,
gzip, ETags, quotas and download counts), and the answer is the same
Response object, finished as Flask finishes it, so both paths send the same
bytes (tests/webui/test_thin_index.py, test_thin_files.py,
test_thin_proxied.py). Anything else goes to Flask, which answers as before:
unknown or failing credentials (rate limits, 401, the last-used record), an
auth epoch that moved (a revocation: verified again on this very request), a
proxied file, a proxied page not stored yet, a 404, a redirect, a 406, an
exceeded download quota, files on S3, an untrusted Host.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import NoReturn

from flask import Flask, Response
from werkzeug import Request
from werkzeug.datastructures import Authorization
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.wsgi import get_host

from envelope.errors import EnvelopeError
from envelope.names import normalize
from envelope.orgs.authentication import cached_caller
from envelope.orgs.identity import Caller
from envelope.storage.local import LocalStorage
from envelope.runtime import Runtime
from web.app import no_sniffing
from web.machine import files, simple
from web.machine.negotiation import choose_format

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class Fallback(Exception):
    """This request is Flask's to answer."""


class ThinPath:
    """WSGI middleware: index pages and files from the thin path, the rest from `flask`."""

    def __init__(self, app: Flask, flask: WSGIApp) -> None:
        self.flask = flask
        self.runtime = app.extensions["envelope"]
        self.trusted_hosts = app.config.get("TRUSTED_HOSTS")
        self.secret_key = self.runtime.settings.secret_key
        self.cached = self.runtime.settings.auth_cache_seconds > 0
        self.local_files = isinstance(self.runtime.storage, LocalStorage)
        adapter = app.url_map.bind("localhost")

        @functools.lru_cache(maxsize=4096)
        def route(path: str) -> tuple[str, dict] | None:
            """Flask's own routing, once per path: the thin path answers
            exactly the URLs Flask sends to the simple and files views."""
            try:
                endpoint, args = adapter.match(path, method="GET")
            except HTTPException:
                return None
            return (endpoint, args) if endpoint in _ENDPOINTS else None

        self.route = route

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.cached and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            try:
                response = self.answer(environ)
            except Exception:  # noqa: BLE001 - Fallback, an EnvelopeError, anything: Flask answers (and logs) it
                response = None
            if response is not None:
                return response(environ, start_response)
        return self.flask(environ, start_response)

    def answer(self, environ: dict) -> Response | None:
        path = environ.get("PATH_INFO", "")
        matched = self.route(path) if path.isascii() else None
        if matched is None:
            return None
        if self.trusted_hosts is not None:
            try:
                get_host(environ, self.trusted_hosts)
            except SecurityError:
                raise Fallback from None  # Flask answers 400
        endpoint, args = matched
        org = args["org"]
        caller = self.caller(org, environ.get("HTTP_AUTHORIZATION"))
        if endpoint == "files.download":
            if not self.local_files:
                return None  # S3 and CDNs: presigned URLs and streamed objects stay Flask's
            response = files.file_answer(self.runtime, caller, _confirmed, Request(environ), args["sha256"],
                                         args["filename"], _not_here)
            return _as_flask_finishes(response)
        content_type = choose_format(environ.get("HTTP_ACCEPT"))
        if content_type is None:
            return None
        accept_encoding, if_none_match = environ.get("HTTP_ACCEPT_ENCODING"), environ.get("HTTP_IF_NONE_MATCH")
        if endpoint == "simple.project_list":
            response = simple.list_answer(self.runtime, caller, _confirmed, content_type,
                                          accept_encoding, if_none_match)
        else:
            project = args["project"]
            if normalize(project) != project:
                return None  # Flask's view redirects to the normal spelling
            upstream = functools.partial(_upstream, self.runtime, project, content_type, accept_encoding,
                                         if_none_match)
            response = simple.detail_answer(self.runtime, caller, _confirmed, project, content_type,
                                            accept_encoding, if_none_match, upstream)
        return _as_flask_finishes(response) if response is not None else None

    def caller(self, org: str, header: str | None) -> Caller:
        """The Caller the auth cache holds for these Basic credentials."""
        try:
            credentials = Authorization.from_header(header)
        except ValueError:
            raise Fallback from None
        if credentials is None or credentials.type != "basic" or not credentials.password:
            raise Fallback
        caller = cached_caller(self.runtime.cache, self.secret_key, org, credentials.username or "",
                               credentials.password)
        if caller is None:
            raise Fallback
        return caller


_ENDPOINTS = ("simple.project_list", "simple.project_detail", "files.download")


def _confirmed(caller: Caller, auth_epoch: int) -> Caller:
    """The cached Caller if still current; a moved epoch goes to Flask, which verifies again."""
    if caller.auth_epoch != auth_epoch:
        raise Fallback
    return caller


def _not_here(_caller: Caller) -> NoReturn:
    raise Fallback  # proxied files and 404s: Flask's view, which reaches the upstream machinery


def _upstream(rt: Runtime, project: str, content_type: str, accept_encoding: str | None,
              if_none_match: str | None, caller: Caller) -> Response | None:
    """A proxied name whose page is stored (warm, or stale: the worker is
    asked to refresh it), answered as Flask's view answers it; a page that
    would wait for the upstream, and any error (a 404), are Flask's."""
    try:
        return simple.upstream_answer(rt, caller, project, content_type, accept_encoding, if_none_match,
                                      stored_only=True)
    except EnvelopeError:
        return None


def _as_flask_finishes(response: Response) -> Response:
    """What Flask adds after a simple or files view returns: web.app's after-request
    headers, and Cookie in Vary (Flask's session interface adds it whenever
    the session was read, which Flask-Login's after-request does every time)."""
    no_sniffing(response)
    # As response.vary.add("Cookie") writes it, without parsing the header
    # into a HeaderSet and back: that round trip cost a fifth of a page's answer.
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = "Cookie"
    elif "cookie" not in (part.strip().lower() for part in vary.split(",")):
        response.headers["Vary"] = vary + ", Cookie"
    return response


def install(app: Flask) -> None:
    """Put the thin path in front of Flask (inside any ProxyFix added later)."""
    app.wsgi_app = ThinPath(app, app.wsgi_app)  # type: ignore[method-assign]
