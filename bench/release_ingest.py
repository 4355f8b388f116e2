#!/usr/bin/env python3
"""What a release of N wheels costs Envelope's worker: wall time from the
signed webhook to the last file in the index, and the worker's peak memory.

Runs the real `envelope serve` (embedded broker, SQLite, local files) against
the fake GitHub from the test suite, with wheels of realistic size made of
incompressible bytes. Usage:

    .venv/bin/python bench/release_ingest.py [--wheels 30] [--size-mb 8] [--reps 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.builders import make_wheel  # noqa: E402
from tests.fake_github import FakeGitHub, release_event_payload, webhook_body, webhook_headers  # noqa: E402
from tests.services import EnvelopeServer  # noqa: E402
from rss import PeakRss, child_pid  # noqa: E402

PLATFORMS = [
    f"cp3{minor}-cp3{minor}-{plat}"
    for minor in (10, 11, 12, 13, 14)
    for plat in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux_2_17_aarch64.manylinux2014_aarch64",
                 "musllinux_1_2_x86_64", "macosx_11_0_arm64", "macosx_10_9_x86_64", "win_amd64")
]


def one_run(wheels: int, size: int, workdir: Path, rep: int) -> tuple[float, int, int]:
    with FakeGitHub() as fake:
        server = EnvelopeServer(workdir / f"data-{rep}", extra_env={
            "ENVELOPE_GITHUB_API_URL": fake.api_url, "ENVELOPE_SYNC_FOLLOWUPS": "3600"})
        server.start()
        try:
            server.cli("org", "create", "bench")
            token = server.token("bench", "--scope", "read")
            repo = fake.add_repo("bench", "lib")
            out = server.cli("repo", "add", "--org", "bench", repo.full_name).stdout
            secret = out.split("Webhook secret: ", 1)[1].strip()
            release = fake.add_release(repo.full_name, "v1.0.0")
            dist = workdir / f"dist-{rep}"
            for tag in PLATFORMS[:wheels]:
                wheel = make_wheel(dist, "benchlib", "1.0.0", tags=tag, files={"benchlib/_native.so": os.urandom(size)})
                fake.add_asset(repo.full_name, release, wheel.name, wheel.read_bytes())
            worker = child_pid(server.pid, b"celery -A worker.celery_app worker")
            time.sleep(2)
            body = webhook_body(release_event_payload(fake, repo.full_name, release))
            with PeakRss(worker) as rss:
                started = time.monotonic()
                requests.post(server.url("/hooks/github"), data=body,
                              headers=webhook_headers("release", "bench", secret, body), timeout=30).raise_for_status()
                while True:
                    page = requests.get(server.url("/bench/simple/benchlib/"), auth=("__token__", token),
                                        headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30)
                    if page.status_code == 200 and len(page.json()["files"]) == wheels:
                        break
                    time.sleep(0.05)
                elapsed = time.monotonic() - started
            return elapsed, rss.idle, rss.peak
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=int, default=30)
    parser.add_argument("--size-mb", type=float, default=8.0)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    size = int(args.size_mb * 1024**2)
    results = []
    with tempfile.TemporaryDirectory(prefix="envelope-bench-") as tmp:
        for rep in range(args.reps):
            results.append(one_run(args.wheels, size, Path(tmp), rep))
            elapsed, idle, peak = results[-1]
            print(f"rep {rep + 1}: {elapsed:.2f} s, worker RSS idle {idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB",
                  flush=True)
    total_mb = args.wheels * args.size_mb
    median = statistics.median(r[0] for r in results)
    print(f"\n{args.wheels} wheels x {args.size_mb:g} MiB ({total_mb:g} MiB): median {median:.2f} s "
          f"({total_mb / median:.0f} MiB/s) from webhook to the last file in the index; worker tree RSS "
          f"idle {statistics.median(r[1] for r in results) / 1024:.0f} MiB, "
          f"peak {max(r[2] for r in results) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
