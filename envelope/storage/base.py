"""The storage contract every backend keeps."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol


class Storage(Protocol):
    """Write-once blobs by key. Writes are all-or-nothing: a reader never sees
    a partial object, so a crash mid-write leaves nothing behind under `key`."""

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        """Store the file at `path` under `key`, streaming it."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        """A stream of the object from byte `start`; FileNotFoundError when
        there is none. With `length`, the caller reads no more than that many
        bytes (a backend may fetch only those: S3 asks for just that range,
        so a range request for a wheel's last kilobytes never pulls the whole
        object through the web process)."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""

    def local_path(self, key: str) -> Path | None:
        """The object's path on this machine, for sendfile; None where there is none."""


def content_addressed_key(sha256: str, filename: str) -> str:
    """Keys derive from the content, so a retried write lands on the same key
    and different bytes can never overwrite each other. The filename is kept
    as the last segment so a download has the right name."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}/{filename}"
