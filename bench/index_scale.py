#!/usr/bin/env python3
"""Does the index slow down as an organization grows? wrk on `/simple/` and
on one project page (30 files) with 100, 10,000 and 100,000 files in the
organization (30 files per project), each on a fresh embedded Envelope.

The rows are inserted straight into the database (projects, releases,
files), not published: the index reads only the database, and publishing
100,000 files would measure the import instead. Usage:

    .venv/bin/python bench/index_scale.py [--sizes 100,10000,100000] [--duration 10]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from envelope.db import Database  # noqa: E402
from envelope.migrate import upgrade  # noqa: E402
from envelope.models import File, Organization, Project, Release  # noqa: E402
from envelope.names import filename_key, parse_filename  # noqa: E402
from tests.services import EnvelopeServer  # noqa: E402

FILES_PER_PROJECT = 30
TAGS = ("cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-macosx_11_0_arm64", "cp312-cp312-win_amd64")


def seed(database_url: str, total_files: int) -> None:
    upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(timezone.utc)
    projects = max(1, total_files // FILES_PER_PROJECT)
    with db.write() as session:
        org = Organization(name="scale", serial=1)
        session.add(org)
        session.flush()
        for p in range(projects):
            name = "probe" if p == 0 else f"project-{p:06d}"
            project = Project(organization_id=org.id, name=name, normalized_name=name, serial=1)
            session.add(project)
            session.flush()
            files = []
            for v in range(FILES_PER_PROJECT // len(TAGS)):
                release = Release(project_id=project.id, version=f"1.{v}", canonical_version=f"1.{v}")
                session.add(release)
                session.flush()
                for tag in TAGS:
                    filename = f"{name.replace('-', '_')}-1.{v}-{tag}.whl"
                    digest = hashlib.sha256(filename.encode()).hexdigest()
                    files.append(dict(
                        project_id=project.id, release_id=release.id, filename=filename, packagetype="bdist_wheel",
                        filename_key=filename_key(parse_filename(filename)),
                        python_version="cp312", size=1000, sha256=digest, blake2b_256=digest, md5=digest[:32],
                        requires_python=">=3.8", metadata_sha256=digest, metadata_size=200,
                        storage_key=f"{digest[:2]}/{digest[2:4]}/{digest}/{filename}", upload_time=now,
                        yanked=False, source="import", uploaded_by="bench",
                    ))
            session.execute(File.__table__.insert(), files)
    db.dispose()


def wrk(url: str, token: str, duration: int, accept: str | None = None) -> dict[str, float]:
    auth = base64.b64encode(f"__token__:{token}".encode()).decode()
    extra = ["-H", f"Accept: {accept}"] if accept else []
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency", "-H", f"Authorization: Basic {auth}", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": ms("50%"), "p99_ms": ms("99%")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    results = []
    for size in map(int, args.sizes.split(",")):
        data = Path(tempfile.mkdtemp(prefix=f"envelope-scale-{size}-"))
        print(f"seeding {size} files ...", flush=True)
        seed(f"sqlite:///{data / 'envelope.db'}", size)
        with EnvelopeServer(data) as server:
            token = server.token("scale", "--scope", "read")
            for path in ("/scale/simple/", "/scale/simple/probe/"):
                wrk(server.url(path), token, 2)  # warm-up: caches filled
                row = {"files": size, "path": path, **wrk(server.url(path), token, args.duration)}
                print(json.dumps(row), flush=True)
                results.append(row)
    out = Path(__file__).parent / "results" / "index-scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print("| files in the organization | `/simple/` req/s | p99 | project page req/s | p99 |")
    print("|---:|---:|---:|---:|---:|")
    for size in sorted({r["files"] for r in results}):
        root, page = (next(r for r in results if r["files"] == size and r["path"].endswith(p))
                      for p in ("/simple/", "/probe/"))
        print(f"| {size:,} | {root['rps']:,.0f} | {root['p99_ms']:.1f} ms | {page['rps']:,.0f} | {page['p99_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
