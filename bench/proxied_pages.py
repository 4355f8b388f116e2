#!/usr/bin/env python3
"""Proxied project pages: warm, stale and cold, against a local upstream.

The upstream is a small HTTP server here serving one PEP 691 JSON page per
name, as large as numpy's (2,000 files), after UPSTREAM_DELAY seconds (an
upstream across the internet) and answering If-None-Match with 304. Three
fresh embedded Envelopes (`envelope serve`) proxy it:

- warm: ENVELOPE_UPSTREAM_TTL=3600, the page fetched once beforehand;
- stale: ENVELOPE_UPSTREAM_TTL=0, so every stored page is past its freshness;
- cold: the first request for each of COLD_NAMES names never fetched;
- private: for reference, a private project page of as many files (rows
  seeded as bench/page_bytes.py does), on the warm server.

wrk (-t2 -c32) measures warm and stale; cold is the median time of single
requests. `--pythonpath DIR` runs another checkout's code with this venv
(e.g. `git archive main | tar -x -C /tmp/base`), to compare before and
after within one run. Usage:

    .venv/bin/python bench/proxied_pages.py [--duration 10] [--pythonpath DIR] [--label NAME]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.index_scale import wrk  # noqa: E402
from bench.page_bytes import seed  # noqa: E402
from tests.services import EnvelopeServer  # noqa: E402

FILES = 2000
UPSTREAM_DELAY = 0.2  # seconds before the upstream answers a page
COLD_NAMES = 5
ACCEPT = "application/vnd.pypi.simple.v1+json"


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.requests = 0
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                upstream.requests += 1
                name = self.path.strip("/").split("/")[-1]
                body = upstream.page(name)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                time.sleep(UPSTREAM_DELAY)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ACCEPT)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def page(self, name: str) -> bytes:
        if name not in self.pages:
            files = []
            for i in range(FILES):
                version = f"{i // 20}.{i % 20}.0"
                filename = f"{name}-{version}-cp312-cp312-manylinux_2_17_x86_64.whl"
                files.append({"filename": filename, "url": f"https://files.example.invalid/{filename}",
                              "hashes": {"sha256": hashlib.sha256(filename.encode()).hexdigest()},
                              "requires-python": ">=3.9", "core-metadata": False, "yanked": False,
                              "size": 15_000_000, "upload-time": "2024-01-01T00:00:00.000000Z"})
            self.pages[name] = json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()
        return self.pages[name]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/simple/"


def envelope(upstream: Upstream, ttl: int, pythonpath: str | None) -> tuple[EnvelopeServer, str]:
    env = {"ENVELOPE_UPSTREAM_TTL": str(ttl), "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.0/8"}
    data = Path(tempfile.mkdtemp(prefix="envelope-proxied-"))
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    else:  # a private project of as many files, for comparison (seeded at this checkout's schema)
        seed(data, FILES // 2)
    server = EnvelopeServer(data, extra_env=env).start()
    server.cli("org", "create", "bench")
    server.cli("org", "proxy", "bench", "--upstream", upstream.url)
    return server, server.token("bench", "--scope", "read")


def get(server: EnvelopeServer, token: str, name: str) -> float:
    start = time.perf_counter()
    response = requests.get(server.url(f"/bench/simple/{name}/"), auth=("__token__", token),
                            headers={"Accept": ACCEPT}, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--pythonpath", help="run this checkout's code instead of this one's")
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    upstream = Upstream()
    row: dict[str, object] = {"code": args.label}
    for kind, ttl in (("warm", 3600), ("stale", 0)):
        server, token = envelope(upstream, ttl, args.pythonpath)
        try:
            get(server, token, "bigpub")  # the first fetch: stored from now on
            url = server.url("/bench/simple/bigpub/")
            wrk(url, token, 2, accept=ACCEPT)  # warm-up
            result = wrk(url, token, args.duration, accept=ACCEPT)
            row[f"{kind}_rps"], row[f"{kind}_p99_ms"] = result["rps"], result["p99_ms"]
            if kind == "warm":
                row["cold_s"] = statistics.median(get(server, token, f"cold{i}") for i in range(COLD_NAMES))
                if not args.pythonpath:
                    private = server.url("/bytes/simple/bigproj/")
                    private_token = server.token("bytes", "--scope", "read")
                    wrk(private, private_token, 2, accept=ACCEPT)
                    result = wrk(private, private_token, args.duration, accept=ACCEPT)
                    row["private_rps"], row["private_p99_ms"] = result["rps"], result["p99_ms"]
        finally:
            server.stop()
    row["upstream_requests"] = upstream.requests
    upstream.shutdown()
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
