"""PEP 691 content negotiation: pick the index format from the Accept header."""
from __future__ import annotations

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

TEXT_HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"

# Order breaks ties between equal q-values: a bare */* gets plain HTML, which
# every client understands.
_OFFERS = (TEXT_HTML, V1_HTML, LATEST_HTML, V1_JSON, LATEST_JSON)
# What we send back for each match: "latest" is always served as v1.
_SENT = {
    TEXT_HTML: "text/html; charset=utf-8",
    V1_HTML: V1_HTML,
    LATEST_HTML: V1_HTML,
    V1_JSON: V1_JSON,
    LATEST_JSON: V1_JSON,
}


def choose_format(accept: str | None) -> str | None:
    """The Content-Type to answer with, or None when nothing acceptable is offered (406).

    No Accept header means HTML, as PEP 503 clients never send one."""
    if not accept or not accept.strip():
        return _SENT[TEXT_HTML]
    match = parse_accept_header(accept, MIMEAccept).best_match(_OFFERS)
    return _SENT[match] if match else None


def is_json(content_type: str) -> bool:
    return content_type == V1_JSON
