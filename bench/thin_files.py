#!/usr/bin/env python3
"""What a file request costs in-process: the WSGI app called in a loop, no
server, for a wheel's `.metadata` and for the wheel itself, streamed by
Envelope or handed to nginx (X-Accel-Redirect). The whole WSGI call is
timed (what is in front of Flask, then Flask if it falls back) with the
body read, and Flask's own path for comparison. For the code before,
copy this script into that checkout (`git archive`) and run it there,
with this venv's python. Usage:

    .venv/bin/python bench/thin_files.py [--requests 2000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import base64
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from werkzeug.test import EnvironBuilder, run_wsgi_app  # noqa: E402

from envelope import usage  # noqa: E402
from envelope.config import Settings  # noqa: E402
from envelope.migrate import upgrade  # noqa: E402
from envelope.models import FileSource  # noqa: E402
from envelope.orgs.identity import operator  # noqa: E402
from envelope.orgs.membership import operator_access  # noqa: E402
from envelope.orgs.organizations import create_organization  # noqa: E402
from envelope.orgs.tokens import create_token  # noqa: E402
from envelope.packaging.publish import publish_file  # noqa: E402
from tests.unit.archives import core_metadata, wheel_members, zip_bytes  # noqa: E402
from web import create_app  # noqa: E402


def build(data_dir: Path, accel: bool):
    """An app on a fresh SQLite database, an organization with 50 wheels, a token."""
    upgrade(f"sqlite:///{data_dir / 'envelope.db'}")
    env = {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
           "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "3600"}
    if accel:
        env["ENVELOPE_ACCEL_REDIRECT_PREFIX"] = "/_envelope_files"
    app = create_app(Settings.from_env(env))
    rt = app.extensions["envelope"]
    with rt.db.write() as session:
        org = create_organization(session, "acme", actor="bench")
        secret = create_token(session, operator_access(org, "bench"), name="bench").secret
    files = []
    for i in range(50):
        data = zip_bytes(wheel_members(f"pkg{i}", "1.0", metadata=core_metadata(f"pkg{i}", "1.0", summary="s")))
        files.append(publish_file(rt.db, rt.storage, organization=org, principal=operator(org, "bench"),
                                  filename=f"pkg{i}-1.0-py3-none-any.whl", stream=io.BytesIO(data),
                                  source=FileSource.upload, spool_dir=rt.settings.tmp_dir,
                                  max_size=10 * 1024**2).file)
    return app, secret, files


def per_request(wsgi, environs: list[dict], requests: int) -> float:
    """Microseconds per request, the body read."""
    start = time.perf_counter()
    for i in range(requests):
        body, status, _ = run_wsgi_app(wsgi, dict(environs[i % len(environs)]), buffered=True)
        b"".join(body)
    elapsed = time.perf_counter() - start
    assert status.startswith("200"), status
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for accel in (False, True):
            data_dir = Path(tmp) / ("accel" if accel else "streamed")
            data_dir.mkdir()
            app, secret, files = build(data_dir, accel)
            auth = "Basic " + base64.b64encode(f"__token__:{secret}".encode()).decode()
            front, flask = app.wsgi_app, getattr(app.wsgi_app, "flask", app.wsgi_app)
            for suffix in (".metadata", ""):
                environs = [EnvironBuilder(path=f"/acme/files/{f.sha256}/{f.filename}{suffix}",
                                           headers={"Authorization": auth}).get_environ() for f in files]
                per_request(front, environs, len(environs))  # warm: auth cache, routes, compiled statements
                label = f"{'x-accel' if accel else 'streamed'} {suffix or 'wheel'}"
                fronts = [per_request(front, environs, args.requests) for _ in range(args.rounds)]
                flasks = [per_request(flask, environs, args.requests) for _ in range(args.rounds)]
                print(f"{label:20} whole WSGI call {min(fronts):7.0f} us (median {sorted(fronts)[len(fronts) // 2]:.0f})"
                      f"   Flask path {min(flasks):7.0f} us (median {sorted(flasks)[len(flasks) // 2]:.0f})",
                      flush=True)
        usage.flush_all()


if __name__ == "__main__":
    main()
