#!/usr/bin/env python3
"""Bytes on the wire for a large project page, identity against gzip.

One project with 2,000 versions (a wheel and an sdist each, 4,000 files),
its rows inserted straight into the database of a fresh embedded Envelope
(as bench/index_scale.py does), then fetched as pip and uv fetch it: the
simple page as HTML and as PEP 691 JSON, and PyPI's JSON API document,
each with `Accept-Encoding: identity` and with `gzip`. Prints a Markdown
table of the body sizes as sent. Usage:

    .venv/bin/python bench/page_bytes.py [--versions 2000]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from envelope.db import Database  # noqa: E402
from envelope.migrate import upgrade  # noqa: E402
from envelope.models import File, Organization, Project, Release  # noqa: E402
from envelope.models.packaging import metadata_key  # noqa: E402
from envelope.names import filename_key, parse_filename  # noqa: E402
from tests.services import EnvelopeServer  # noqa: E402

NAME = "bigproj"
PAGES = (
    ("simple HTML", f"/bytes/simple/{NAME}/", "text/html"),
    ("simple JSON (PEP 691)", f"/bytes/simple/{NAME}/", "application/vnd.pypi.simple.v1+json"),
    ("PyPI JSON API", f"/bytes/pypi/{NAME}/json", "application/json"),
)


def seed(data: Path, versions: int) -> None:
    database_url = f"sqlite:///{data / 'envelope.db'}"
    upgrade(database_url)
    db = Database(database_url)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with db.write() as session:
        org = Organization(name="bytes", serial=1)
        session.add(org)
        session.flush()
        project = Project(organization_id=org.id, name=NAME, normalized_name=NAME, serial=1)
        session.add(project)
        session.flush()
        files = []
        for v in range(versions):
            version = f"{v // 100}.{v % 100}.0"
            release = Release(project_id=project.id, version=version, canonical_version=version,
                              summary="A project with many releases", requires_python=">=3.9")
            session.add(release)
            session.flush()
            for filename, packagetype in ((f"{NAME}-{version}-py3-none-any.whl", "bdist_wheel"),
                                          (f"{NAME}-{version}.tar.gz", "sdist")):
                digest = hashlib.sha256(filename.encode()).hexdigest()
                key = f"{digest[:2]}/{digest[2:4]}/{digest}/{filename}"
                files.append(dict(
                    project_id=project.id, release_id=release.id, filename=filename, packagetype=packagetype,
                    filename_key=filename_key(parse_filename(filename)),
                    python_version="py3" if packagetype == "bdist_wheel" else "source", size=48_213 + v,
                    sha256=digest, blake2b_256=hashlib.blake2b(filename.encode(), digest_size=32).hexdigest(),
                    md5=hashlib.md5(filename.encode()).hexdigest(), requires_python=">=3.9",
                    metadata_sha256=digest, metadata_size=200, storage_key=key,
                    upload_time=start + timedelta(hours=v), yanked=False, source="import", uploaded_by="bench",
                ))
                # The JSON API reads the newest release's core metadata from storage.
                stored = data / "files" / metadata_key(key)
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_text(f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n")
        session.execute(File.__table__.insert(), files)
    db.dispose()


def body_size(url: str, token: str, accept: str, encoding: str) -> tuple[int, str | None]:
    response = requests.get(url, auth=("__token__", token), stream=True, timeout=120,
                            headers={"Accept": accept, "Accept-Encoding": encoding})
    response.raise_for_status()
    return len(response.raw.read(decode_content=False)), response.headers.get("Content-Encoding")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=2000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="envelope-page-bytes-"))
    seed(data, args.versions)
    with EnvelopeServer(data) as server:
        token = server.token("bytes", "--scope", "read")
        print(f"A project of {args.versions:,} versions ({2 * args.versions:,} files), bytes as sent:\n")
        print("| page | identity | gzip | ratio |")
        print("|---|---:|---:|---:|")
        for label, path, accept in PAGES:
            plain, plain_coding = body_size(server.url(path), token, accept, "identity")
            packed, packed_coding = body_size(server.url(path), token, accept, "gzip")
            note = "" if packed_coding == "gzip" else " (not compressed)"
            print(f"| {label} | {plain:,} B | {packed:,} B{note} | {plain / packed:.1f}x |")


if __name__ == "__main__":
    main()
