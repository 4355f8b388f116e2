"""Uploads are spooled on the data disk (ENVELOPE_DATA_DIR/tmp), never in the
system temp dir, which is often a small RAM-backed tmpfs."""
from __future__ import annotations

import os
import time
from pathlib import Path

from tests.builders import make_wheel
from tests.integration.clients import PartialUpload
from tests.services import descendants

ORG = "acme"


def open_files(root_pid: int) -> list[str]:
    """What the server's processes have open, as paths ('… (deleted)' for unlinked temp files)."""
    paths = []
    for pid in [root_pid, *descendants(root_pid)]:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                paths.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
    return paths


def test_multipart_upload_is_spooled_under_the_data_dir(envelope_server, tmp_path: Path) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    server = envelope_server("sqlite-file", extra_env={"TMPDIR": str(system_tmp)})
    server.cli("org", "create", ORG)
    token = server.token(ORG, "--scope", "upload")
    # Incompressible, well past the 500 KB a file part may keep in memory.
    wheel = make_wheel(tmp_path, "spooled", "1.0.0", files={"spooled/blob.bin": os.urandom(3 * 1024**2)})
    # gunicorn and Celery keep files of their own in TMPDIR: only new ones count.
    before = {path for path in open_files(server.pid) if path.startswith(str(system_tmp))}
    upload = PartialUpload(server.host, server.port, ORG, token, wheel)
    upload.send(2 * 1024**2)  # the server is now spooling the part, waiting for the rest
    spool_dir = str(server.data_dir / "tmp") + "/"
    deadline = time.monotonic() + 30
    while True:
        files = open_files(server.pid)
        if any(path.startswith(spool_dir) for path in files):
            break
        assert time.monotonic() < deadline, f"no spool file under {spool_dir}: {files}"
        time.sleep(0.1)
    assert {path for path in files if path.startswith(str(system_tmp))} - before == set()
    response = upload.finish()
    assert response.status == 200, response.reason
    upload.close()
