"""Request bodies with a size cap of their own, far below the upload limit.

A body declared larger than the cap is refused with 413 before a byte of it
is read; one sent without a length (chunked) is cut off once it passes the
cap. Either way a caller who is not yet authenticated cannot make the server
buffer more than the cap.
"""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from envelope.errors import EnvelopeError


class BodyTooLarge(EnvelopeError):
    status = 413


def limit_body(limit: int, what: str = "Request body") -> None:
    """Refuse a declared length over `limit` bytes now, and make every later
    read of this request's body (form, JSON, get_data) stop past `limit`.

    Call it before anything touches request.stream, request.form or get_data."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(_message(what, limit))
    # One byte more than allowed: werkzeug stops a chunked body there without
    # a word (form parsing raises), so a body that long is known to be too long.
    request.max_content_length = limit + 1


def read_body(limit: int, what: str = "Request body") -> bytes:
    """The request body, at most `limit` bytes; BodyTooLarge (413) otherwise."""
    limit_body(limit, what)
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        data = None
    if data is None or len(data) > limit:
        raise BodyTooLarge(_message(what, limit))
    return data


def _message(what: str, limit: int) -> str:
    return f"{what} too large: this endpoint accepts at most {limit} bytes ({limit // 1024**2} MiB)."
