"""Media types and caching of stored files: one table, so the Content-Type an
object is stored with in S3 and the one Envelope answers HEAD and local
downloads with are the same."""
from __future__ import annotations

METADATA_SUFFIX = ".metadata"
CONTENT_TYPES = {".whl": "application/zip", ".zip": "application/zip", ".tar.gz": "application/gzip"}
METADATA_CONTENT_TYPE = "text/plain; charset=utf-8"
FALLBACK_CONTENT_TYPE = "application/octet-stream"
# Every key is content-addressed (envelope.storage.content_addressed_key):
# the bytes behind a URL never change, so any cache may keep them for a year.
# Private: only callers who were authorised ever get the URL.
IMMUTABLE = "private, max-age=31536000, immutable"


def content_type(filename: str) -> str:
    """The media type of a distribution file, or of its PEP 658 `.metadata`."""
    if filename.endswith(METADATA_SUFFIX):
        return METADATA_CONTENT_TYPE
    return next((t for suffix, t in CONTENT_TYPES.items() if filename.endswith(suffix)), FALLBACK_CONTENT_TYPE)
