"""What the organization pages share: the signed-in member's access, HTML
error pages and response headers."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from envelope.orgs.capabilities import Capability
from envelope.errors import EnvelopeError
from envelope.orgs.membership import OrgAccess, require_role
from envelope.models import User
from web.errors import reason_phrase
from web.shared import refuse_nul_bytes

# Pages render only our own markup, our stylesheet and script, and README
# images from anywhere; a README that slipped past the sanitizer still
# could not run a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https: data:; script-src 'self'; "
    "style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def signed_in_user() -> User:
    return current_user.user


def access_for(
    session: Session, org: str, capability: Capability = Capability.READ_INDEX, *, to: str = "see this page"
) -> OrgAccess:
    """The signed-in user's access to `org`: NotFound for outsiders, Forbidden
    (naming the role) when envelope.orgs.capabilities' table says no."""
    return require_role(session, org, signed_in_user(), capability, to=to)


def no_store(response: Response) -> Response:
    """For pages that show a secret once: no cache, no back-button copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, message: str) -> Response:
    response = Response(render_template("ui/error.html", status=status, message=message), status=status)
    response.status = f"{status} {reason_phrase(message)}"
    return response


def html_pages(bp: Blueprint) -> Blueprint:
    """Give a UI blueprint HTML error pages and the security headers."""

    bp.before_request(refuse_nul_bytes)

    @bp.errorhandler(EnvelopeError)
    def envelope_error(exc: EnvelopeError) -> Response:
        return error_page(exc.status, str(exc))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return error_page(exc.code or 500, exc.description or exc.name)

    @bp.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return bp
