"""EnvelopeError -> HTTP status with the message in the reason phrase.

twine and pip print the status line, not the body, so the sentence a person
needs to act on goes there (as PyPI does), and in the body too.
"""
from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from envelope.errors import EnvelopeError, Unauthorized
from web.runtime import runtime

REALM = 'Basic realm="envelope"'
MAX_REASON = 300  # characters


def reason_phrase(message: str) -> str:
    """A status-line-safe version of `message`: one latin-1 line."""
    line = " ".join(message.split())
    return line.encode("latin-1", "replace").decode("latin-1")[:MAX_REASON]


def error_response(status: int, message: str) -> Response:
    response = Response(message + "\n", mimetype="text/plain")
    response.status = f"{status} {reason_phrase(message)}"
    if status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


def register(app: Flask) -> None:
    @app.errorhandler(EnvelopeError)
    def envelope_error(exc: EnvelopeError) -> Response:
        response = error_response(exc.status, str(exc))
        retry_after = getattr(exc, "retry_after", None)  # seconds, on 429s
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        reset_after = getattr(exc, "reset_after", None)  # seconds until a quota resets (envelope.quotas)
        if reset_after is not None:
            response.headers["RateLimit-Reset"] = str(reset_after)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        if (request.content_length or 0) > app.config["MAX_CONTENT_LENGTH"]:
            limit = runtime().settings.max_file_size
            message = f"File too large. Limit for this index is {limit} bytes."
        else:
            field_limit = app.config["MAX_FORM_MEMORY_SIZE"]
            message = f"A form field is too large: fields may be at most {field_limit} bytes."
        return error_response(413, message)

    app.register_error_handler(HTTPException, http_error)


def http_error(exc: HTTPException) -> Response:
    """Plain text with the reason phrase (web/api answers /api/ paths in JSON
    and falls back to this for every other path); a browser asking for a
    page gets the HTML error page, which says what to do next."""
    if isinstance(exc, MethodNotAllowed) and request.method == "POST":
        hint = _upload_hint(request.path)
        if hint:
            response = error_response(405, hint)
            response.headers["Allow"] = ", ".join(exc.valid_methods or ("GET", "HEAD"))
            return response
    if request.method == "GET" and _browser_page_wanted():
        from web.pages.org_pages import error_page  # pages import this module: import when needed

        return error_page(exc.code or 500, exc.description or exc.name)
    return error_response(exc.code or 500, exc.description or exc.name)


def _upload_hint(path: str) -> str | None:
    """An upload sent to the index URL (twine's --repository-url copied from
    pip's --index-url, a common slip) is told where uploads go. The address
    comes from ENVELOPE_BASE_URL, never from the request's Host header."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[1] != "simple":
        return None
    base = runtime().settings.base_url.rstrip("/")
    return f"Method Not Allowed: uploads go to {base}/{parts[0]}/legacy/, not to the index URL."


def _browser_page_wanted() -> bool:
    """A browser's navigation names text/html at full quality; pip names it
    at q=0.01 and curl only as */*, so both keep the plain-text answer."""
    return any(value == "text/html" and quality == 1 for value, quality in request.accept_mimetypes)


__all__ = ["Unauthorized", "error_response", "register"]
