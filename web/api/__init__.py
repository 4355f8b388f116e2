"""The JSON API under /api/v1/, described by /api/openapi.json.

Two kinds of caller:
- a browser signed in to the web UI (session cookie): unsafe methods need
  the CSRF token in an X-CSRFToken header;
- automation with an access token of the organization, as
  ``Authorization: Bearer envl_…`` or HTTP Basic (any username, the token as
  password). Such requests carry no ambient credentials, so no CSRF token.
  A token acts within its scope and restrictions and never as an owner.

Errors are ``{"error": message}`` with the status of the envelope error.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from envelope.errors import EnvelopeError, InvalidInput, Unauthorized
from envelope.orgs.capabilities import Capability
from envelope.orgs.membership import OrgAccess, caller_access, member_access
from envelope.models import Role
from envelope.orgs.tokens import PREFIX
from web import errors
from web.machine.auth import caller_for
from web.bodies import limit_body, read_body
from web.shared import refuse_nul_bytes
from web.extensions import csrf

from web.runtime import runtime

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # checked below for cookie-authenticated requests only
MAX_TEXT = 10_000  # characters in any one JSON string field
MAX_BODY = 1024**2  # bytes: the largest request has a few fields of MAX_TEXT
PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def identify_caller() -> None:
    g.api_token = None
    g.api_token_username = ""
    # Before anything reads the body (refuse_nul_bytes parses forms).
    limit_body(MAX_BODY, "API request body")
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    refuse_nul_bytes()
    if "Authorization" in request.headers:
        g.api_token = _token_from_header()
        return
    if current_user.is_authenticated:
        csrf.protect()  # a no-op for GET/HEAD/OPTIONS
        return
    raise Unauthorized("Sign in, or send an access token: Authorization: Bearer envl_…")


def _token_from_header() -> str:
    credentials = request.authorization
    secret = None
    if credentials is not None and credentials.type == "bearer":
        secret = credentials.token
    elif credentials is not None and credentials.type == "basic":
        secret = credentials.password
        g.api_token_username = credentials.username or ""
    if not secret or not secret.startswith(PREFIX):
        raise Unauthorized(
            "Use an access token: Authorization: Bearer envl_…, or Basic auth with the token as password."
        )
    return secret


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def org_access(
    session: Session, org: str, capability: Capability = Capability.READ_INDEX, *, to: str = "do that"
) -> OrgAccess:
    """The caller's access to `org`: NotFound for outsiders and other
    organizations' tokens, Forbidden when envelope.orgs.capabilities' table says no.
    A token comes through the one front door (web/machine/auth.py), cached, and is
    verified again when the organization's auth epoch moved on."""
    if g.api_token is not None:
        caller = caller_for(org, g.api_token_username, g.api_token)
        access = caller_access(session, caller)
        if access.organization.auth_epoch != caller.auth_epoch:
            access = caller_access(session, caller_for(org, g.api_token_username, g.api_token, fresh=True))
    else:
        access = member_access(session, org, current_user.user)
    access.require(capability, to)
    return access


def authorised_body(org: str, capability: Capability = Capability.READ_INDEX, *, to: str = "do that") -> dict[str, Any]:
    """body(), read only once the caller is known to hold `capability` in `org`:
    strangers get 401/403/404 for the price of a lookup, never a parse.

    The check runs in a read transaction of its own, so no write transaction
    (on SQLite, the database's one writer) waits on a slow client's body; the
    caller checks again inside its write transaction."""
    with runtime().db.read() as session:
        org_access(session, org, capability, to=to)
    return body()


def body() -> dict[str, Any]:
    """The JSON object sent; an empty body is {}. InvalidInput otherwise.

    Authenticate and authorise first (authorised_body does both)."""
    if not read_body(MAX_BODY, "API request body"):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return data


def text(data: dict[str, Any], key: str, *, required: bool = False, default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is None:
        if required:
            raise InvalidInput(f"Field {key!r} is required.")
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        raise InvalidInput(f"Field {key!r} must be a string of at most {MAX_TEXT} characters.")
    if required and not value.strip():
        raise InvalidInput(f"Field {key!r} must not be empty.")
    return value


def strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(
        isinstance(v, str) and len(v) <= MAX_TEXT and "\x00" not in v for v in value
    ):
        raise InvalidInput(f"Field {key!r} must be a list of strings.")
    return value


def flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"Field {key!r} must be true or false.")
    return value


def role_field(data: dict[str, Any], key: str = "role") -> Role:
    value = text(data, key, required=True)
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"Invalid role {value!r}: use one of {', '.join(r.value for r in Role)}.") from None


def json_error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        # Bearer, not Basic: a Basic challenge would pop up the browser's
        # password dialog over the page's own script.
        response.headers["WWW-Authenticate"] = 'Bearer realm="envelope"'
    return response


@bp.errorhandler(EnvelopeError)
def envelope_error(exc: EnvelopeError) -> Response:
    return json_error(exc.status, str(exc))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return json_error(exc.code or 500, exc.description or exc.name)


@bp.app_errorhandler(HTTPException)
def routing_error(exc: HTTPException) -> Response:
    """The app-wide handler for HTTP errors no blueprint handled: unknown
    paths and methods (routing matched no blueprint) under /api/ answer in
    JSON too; anything else as web/errors.py answers. A class handler, not a
    404/405 one, so every blueprint's own HTTPException handler still wins."""
    if request.path.startswith("/api/"):
        response = json_error(exc.code or 404, exc.description or exc.name)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    return errors.http_error(exc)


from web.api import openapi
from web.api import orgs, projects, publishers, repositories, tokens  # noqa: E402,F401  (routes)
