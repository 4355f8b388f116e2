"""Files on local disk, written atomically (temp file, fsync, rename)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from envelope.errors import StorageUnavailable

COPY_BUFFER = 1024 * 1024  # bytes


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._inside = str(self.root) + os.sep

    def _path(self, key: str) -> Path:
        """The file of `key`, refused when the key leads out of the root
        (`..`, an absolute path). Normalised lexically, not with resolve():
        this runs on every download, and resolve()'s system call per path
        component was a third of a file request's time (bench/README.md).
        Keys are Envelope's own; a link inside the root is an operator's."""
        path = os.path.normpath(os.path.join(self.root, key))
        if not path.startswith(self._inside):
            raise ValueError(f"Storage key escapes the storage root: {key!r}")
        return Path(path)

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        with open(path, "rb") as source:
            self._write(key, lambda out: shutil.copyfileobj(source, out, COPY_BUFFER))

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        self._write(key, lambda out: out.write(data))

    def _write(self, key: str, fill) -> None:
        try:
            self._write_atomically(self._path(key), fill)
        except OSError as exc:
            raise StorageUnavailable(
                f"File storage failed ({exc.strerror or exc}); nothing was published, "
                "try again later."
            ) from None

    def _write_atomically(self, target: Path, fill) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        # Make the rename itself durable.
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        stream = open(self._path(key), "rb")
        if start:
            stream.seek(start)
        return stream

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
