"""PEP 691 content negotiation: pick the index format from the Accept header."""
from __future__ import annotations

import functools

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


# Clients send the same few header values over and over (pip's, uv's), and
# werkzeug's parsing of pip's Accept costs more than serving the page: both
# answers are pure functions of the header, remembered per value.
HEADER_VALUES_REMEMBERED = 256


@functools.lru_cache(maxsize=HEADER_VALUES_REMEMBERED)
def choose_format(accept: str | None) -> str | None:
    """The Content-Type to answer with, or None when nothing acceptable is offered (406).

    No Accept header means HTML, as PEP 503 clients never send one."""
    if not accept or not accept.strip():
        return _SENT[TEXT_HTML]
    match = parse_accept_header(accept, MIMEAccept).best_match(_OFFERS)
    return _SENT[match] if match else None


def is_json(content_type: str) -> bool:
    return content_type == V1_JSON


@functools.lru_cache(maxsize=HEADER_VALUES_REMEMBERED)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether a page may be sent gzip-encoded (RFC 9110 §12.5.3).

    `gzip` (or its old alias `x-gzip`) with a q-value above zero says yes, and
    so does `*` when gzip is not named; `q=0` refuses. Identity is always
    acceptable in practice (a client that refused it and gzip both gets it
    anyway), so the only question is whether gzip is allowed; pip and uv send
    `Accept-Encoding: gzip`, through requests and reqwest."""
    if not accept_encoding:
        return False
    named: float | None = None
    wildcard: float | None = None
    for coding, quality in parse_accept_header(accept_encoding):
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named = quality if named is None else max(named, quality)
        elif coding == "*":
            wildcard = quality
    if named is not None:
        return named > 0
    return wildcard is not None and wildcard > 0
