"""Conditional and range requests for distribution files (RFC 9110 §13-14).

uv reads a wheel's metadata with range requests when an index offers no
`.metadata` file, but only if a HEAD advertises `Accept-Ranges: bytes`; pip
and proxies revalidate with `If-None-Match`, often with weak validators.
Files are immutable, so the sha256 is a strong validator and the upload
time a stable Last-Modified. Werkzeug parses the headers; the decisions the
RFC leaves to us are made here:

- If-None-Match uses weak comparison and wins over If-Modified-Since.
- If-Range uses strong comparison (a weak tag never matches), or an exact date.
- One range: 206. Several ranges: the whole file, 200 (RFC 9110 §14.2 lets a
  server ignore Range; no client of an index needs multipart/byteranges).
  An unparsable Range is ignored the same way.
- A single range that starts past the end: 416 with `Content-Range: bytes */N`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Request
from werkzeug.http import http_date, parse_date, parse_etags, parse_range_header, unquote_etag


@dataclass(frozen=True)
class Validators:
    etag: str  # unquoted, strong
    modified: datetime | None

    def headers(self) -> dict[str, str]:
        out = {"ETag": f'"{self.etag}"'}
        if self.modified is not None:
            out["Last-Modified"] = http_date(self.modified)
        return out


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{size}"


class Unsatisfiable(Exception):
    """The one range asked for lies wholly past the end of the file: 416."""


def _seconds(moment: datetime) -> datetime:
    """HTTP dates carry whole seconds, in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.replace(microsecond=0)


def not_modified(request: Request, validators: Validators) -> bool:
    """Whether a GET or HEAD may answer 304 (RFC 9110 §13.1.2, §13.1.3, §13.2.2)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return parse_etags(if_none_match).contains_weak(validators.etag)  # `*` and lists too
    since = parse_date(request.headers.get("If-Modified-Since"))
    return since is not None and validators.modified is not None and _seconds(validators.modified) <= since


def _if_range_holds(value: str, validators: Validators) -> bool:
    """If-Range (RFC 9110 §13.1.5): a strong tag that matches exactly, or the exact Last-Modified."""
    value = value.strip()
    if value.startswith(('"', "W/")):
        tag, weak = unquote_etag(value)
        return not weak and tag == validators.etag
    date = parse_date(value)
    return date is not None and validators.modified is not None and _seconds(validators.modified) == date


def requested_range(request: Request, validators: Validators, size: int) -> ByteRange | None:
    """The one byte range a GET asks for, or None to send the whole file.
    Raises Unsatisfiable for a single range past the end."""
    header = request.headers.get("Range")
    if request.method != "GET" or header is None or size <= 0:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and not _if_range_holds(if_range, validators):
        return None
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    first, last = parsed.ranges[0]
    if first < 0 and last is None and -first >= size:
        return ByteRange(0, size)  # a suffix longer than the file is the whole file (§14.1.2)
    bounds = parsed.range_for_length(size)
    if bounds is None:
        raise Unsatisfiable()
    start, stop = bounds
    return ByteRange(start, stop - start)
