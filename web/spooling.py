"""Requests whose uploaded files spool on the data disk.

Werkzeug keeps a multipart file part in memory up to 500 KB, then in the
system temp dir, which is often a small RAM-backed tmpfs: a large wheel
could fill it (or the machine's memory). Spooled under ENVELOPE_DATA_DIR/tmp
instead, it lands on the disk meant for packages, where publish_file spools
its own copy too.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

from flask import Request

IN_MEMORY = 500 * 1024  # bytes of a file part kept in memory before it goes to disk (Werkzeug's figure)


class SpoolingRequest(Request):
    spool_dir: Path | None = None  # set by spooling_request(); None means the system temp dir

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # An anonymous file: nothing is left behind if the process dies.
        return tempfile.SpooledTemporaryFile(max_size=IN_MEMORY, mode="rb+", dir=self.spool_dir)


def spooling_request(spool_dir: Path) -> type[Request]:
    """A Request class for app.request_class that spools file parts in `spool_dir`."""
    return type("Request", (SpoolingRequest,), {"spool_dir": spool_dir})
