"""Downloads counted off the request path by `envelope serve`'s own web
workers, written by their background flush, on SQLite and on PostgreSQL
(the upsert differs): pip's downloads count, uv's HEAD and metadata range do not."""
from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.builders import make_wheel
from tests.integration.clients import pip, twine_upload, uv

ORG = "usage-co"


def _release_downloads(server, token: str) -> dict[str, int]:
    response = requests.get(server.url(f"/api/v1/orgs/{ORG}/projects/counted"),
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return {r["version"]: r["downloads_30d"] for r in response.json()["releases"]}


def test_pip_downloads_are_counted_and_written_in_the_background(server, tmp_path: Path) -> None:
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload")
    read = server.token(ORG, "--scope", "read")
    wheels = [make_wheel(tmp_path / "dist", "counted", version) for version in ("1.0", "2.0")]
    twine_upload(server.client_env, server.base_url, ORG, upload, wheels)

    env = server.client_env
    for attempt in range(3):
        pip(env, "download", "--no-deps", "--no-cache-dir", "-d", str(tmp_path / f"dl{attempt}"),
            "--index-url", server.index_url(ORG, read), "counted==1.0")
    # uv: a HEAD and a range for the wheel's metadata, or the .metadata file: none of them a download.
    wanted = tmp_path / "requirements.in"
    wanted.write_text("counted\n")
    locked = uv(env, "pip", "compile", str(wanted), "--index-url", server.index_url(ORG, read)).stdout
    assert "counted==2.0" in locked

    deadline = time.monotonic() + 30
    while (counts := _release_downloads(server, read)) != {"1.0": 3, "2.0": 0} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert counts == {"1.0": 3, "2.0": 0}
