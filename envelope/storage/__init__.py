"""File storage: one interface, a local-disk and an S3 backend, chosen by URL."""
from __future__ import annotations

from urllib.parse import urlsplit

from envelope.storage.base import Storage, content_addressed_key
from envelope.storage.local import LocalStorage


def storage_from_url(url: str) -> Storage:
    """`file:///path` or `s3://bucket/prefix` (boto3 reads AWS_* itself)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(parts.netloc + parts.path)
    if parts.scheme == "s3":
        from envelope.storage.s3 import S3Storage  # boto3 is slow to import

        return S3Storage(parts.netloc, prefix=parts.path.strip("/"))
    raise ValueError(f"Unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix.")


__all__ = ["Storage", "LocalStorage", "content_addressed_key", "storage_from_url"]
