"""/_/oidc/…: trusted publishing's exchange, where PyPI serves it, so uv and
pypa/gh-action-pypi-publish work unchanged (logic in envelope/publishing)."""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, jsonify

from envelope.errors import EnvelopeError, MintRefused
from envelope.publishing.exchange import burn_token, mint_token
from envelope.publishing.issuer import IssuerUnavailable, issuer_keys
from web.bodies import read_body
from web.extensions import limiter
from web.runtime import runtime

bp = Blueprint("oidc", __name__)
log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes: an OIDC token is about 1.5 KB
# Per client address. GitHub's hosted runners share addresses, so the limit
# leaves room for many jobs at once; it stops a flood of forged tokens
# (each costs an RSA verification) from one place.
MINT_LIMIT = "60 per minute"
BURN_LIMIT = "120 per minute"


@bp.get("/_/oidc/audience")
def audience() -> Response:
    return jsonify(audience=runtime().settings.oidc_audience)


@bp.post("/_/oidc/mint-token")
@limiter.limit(MINT_LIMIT)
def mint() -> Response:
    rt = runtime()
    minted = mint_token(rt.db, issuer_keys(rt.settings.oidc_github_issuer), _field("token"),
                        audience=rt.settings.oidc_audience)
    return jsonify(success=True, token=minted.secret, expires=minted.expires.isoformat())


@bp.post("/_/oidc/burn-token")
@limiter.limit(BURN_LIMIT)
def burn() -> tuple[Response, int]:
    """202 whatever the token: like PyPI, the answer confirms nothing."""
    token = _field("token")
    with runtime().db.write() as session:
        burn_token(session, token)
    return jsonify(success=True), 202


def _field(name: str) -> object:
    """`name` of the JSON object in the body, read whatever the Content-Type
    (uv before 0.6 sent none)."""
    try:
        body = json.loads(read_body(MAX_BODY, "Token request"))
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get(name), str):
        raise MintRefused("invalid-payload", f'The body must be a JSON object with a "{name}" string.')
    return body[name]


@bp.errorhandler(MintRefused)
@bp.errorhandler(IssuerUnavailable)
def refused(exc: EnvelopeError) -> tuple[Response, int]:
    """PyPI's shape, which the action and uv print for people."""
    if isinstance(exc, IssuerUnavailable):
        log.warning("trusted publishing: %s", exc)
    errors = [{"code": getattr(exc, "code", "invalid-payload"), "description": str(exc)}]
    return jsonify(message="Token request failed", errors=errors), exc.status


@bp.errorhandler(429)
def too_many(exc) -> tuple[Response, int]:
    errors = [{"code": "rate-limited", "description": f"Too many token requests: {exc.description}."}]
    return jsonify(message="Token request failed", errors=errors), 429
