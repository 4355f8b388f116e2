"""Range and conditional requests on distribution files, against the real
server on every backend, with plain `requests`: a private wheel, its
`.metadata`, and a wheel proxied from an upstream that offers no metadata.

The module's servers stream S3 objects through the web process
(ENVELOPE_DOWNLOADS=stream), so postgres-s3 exercises ranged S3 reads and
sqlite-file local files; `test_redirect_mode_*` covers presigned redirects.
Finally uv resolves the metadata-less proxied wheel and is seen to read it
with range requests rather than download it whole (issue 10).
"""
from __future__ import annotations

import hashlib
import http.client
import random
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.builders import make_wheel, sha256_file
from tests.integration.clients import index_url, twine_upload, uv
from tests.services import EnvelopeServer

ORG = "rangeorg"
BIG = 4_000_000  # bytes of incompressible payload in the proxied wheel
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class Target:
    """One file URL and the bytes it must serve."""

    path: str
    content: bytes


@dataclass
class Setup:
    server: EnvelopeServer
    token: str
    targets: dict[str, Target]
    upstream_wheel: Path
    upstream: "_StaticHost"


class _StaticHost(ThreadingHTTPServer):
    """A PEP 503 upstream that serves fixed bytes by path and no PEP 658 metadata."""

    def __init__(self, routes: dict[str, tuple[str, bytes]]) -> None:
        self.routes = routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:  # noqa: N805
                content_type, body = self.routes.get(handler.path, ("text/plain", b""))
                handler.send_response(200 if handler.path in self.routes else 404)
                handler.send_header("Content-Type", content_type)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class _Seen:
    method: str
    path: str
    status: int
    range: str | None
    body_bytes: int


class CountingProxy:
    """Forwards everything to Envelope unchanged and records, per request, the
    Range header sent and the body bytes that came back."""

    def __init__(self, host: str, port: int) -> None:
        self.seen: list[_Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def _forward(self, method: str) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(host, port, timeout=120)
                try:
                    upstream.request(method, self.path, headers=headers)
                    response = upstream.getresponse()
                    body = response.read()
                    proxy.seen.append(_Seen(method, self.path, response.status, self.headers.get("Range"), len(body)))
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)  # Content-Length too: HEAD must keep the real one
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(body)
                finally:
                    upstream.close()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ENVELOPE_DOWNLOADS": "stream", "ENVELOPE_UPSTREAM_TTL": "0",
            "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.0/8,::1"}


def _payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture(scope="module")
def setup(server: EnvelopeServer, tmp_path_factory) -> Setup:
    dist = tmp_path_factory.mktemp("range-dist")
    private = make_wheel(dist, "ranged", "1.0", files={"ranged/blob.bin": _payload(1, 700_000)})
    public = make_wheel(dist / "up", "bigpub", "1.0", requires_dist=["ranged>=1"],
                        files={"bigpub/blob.bin": _payload(2, BIG)})
    link = f'<a href="/f/{public.name}#sha256={sha256_file(public)}">{public.name}</a>'
    upstream = _StaticHost({
        "/simple/bigpub/": ("text/html", f"<html><body>{link}</body></html>".encode()),
        "/f/" + public.name: ("application/octet-stream", public.read_bytes()),
    })
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload")
    twine_upload(server.client_env, server.base_url, ORG, upload, [private])
    server.cli("org", "proxy", ORG, "--upstream", f"{upstream.base}/simple/")
    token = server.token(ORG, "--scope", "read")
    auth = ("__token__", token)
    targets = {}
    for name in ("ranged", "bigpub"):
        page = requests.get(server.url(f"/{ORG}/simple/{name}/"), auth=auth, timeout=60,
                            headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        entry = page["files"][0]
        path = f"/{ORG}/files/{entry['hashes']['sha256']}/{entry['filename']}"
        source = private if name == "ranged" else public
        targets[name] = Target(path, source.read_bytes())
        if name == "ranged":
            assert entry["core-metadata"]
            metadata = requests.get(server.url(path + ".metadata"), auth=auth, timeout=60)
            assert metadata.status_code == 200
            targets["metadata"] = Target(path + ".metadata", metadata.content)
        else:
            assert not entry.get("core-metadata"), "the proxied wheel must come without PEP 658 metadata"
    yield Setup(server, token, targets, public, upstream)
    upstream.shutdown()


def _request(setup: Setup, method: str, target: Target, **headers: str) -> requests.Response:
    return requests.request(method, setup.server.url(target.path), auth=("__token__", setup.token),
                            headers=headers, allow_redirects=False, timeout=120)


WHICH = ["ranged", "metadata", "bigpub"]


@pytest.mark.parametrize("which", WHICH)
def test_head_answers_what_get_would_and_advertises_ranges(setup: Setup, which: str) -> None:
    target = setup.targets[which]
    head = _request(setup, "HEAD", target)
    get = _request(setup, "GET", target)
    assert head.status_code == get.status_code == 200
    assert get.content == target.content
    for name in ("Content-Length", "ETag", "Content-Type", "Last-Modified", "Cache-Control"):
        assert head.headers.get(name) == get.headers.get(name), name
    assert head.headers["Accept-Ranges"] == get.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == len(target.content)
    assert head.content == b""


@pytest.mark.parametrize("which", WHICH)
def test_single_ranges_answer_206_with_the_right_bytes(setup: Setup, which: str) -> None:
    target = setup.targets[which]
    data, size = target.content, len(target.content)
    for header, (start, stop) in {
        "bytes=0-9": (0, 10),
        "bytes=-22": (size - 22, size),  # a zip's end of central directory: what uv reads first
        f"bytes={size - 5}-": (size - 5, size),
        f"bytes=3-{size + 1000}": (3, size),  # a last byte past the end is clamped
        f"bytes=-{size + 10}": (0, size),  # a suffix longer than the file is all of it
    }.items():
        response = _request(setup, "GET", target, Range=header)
        assert response.status_code == 206, (header, response.status_code)
        assert response.content == data[start:stop], header
        assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert int(response.headers["Content-Length"]) == stop - start
    if which == "bigpub":  # across the web process's read chunks, from the middle
        response = _request(setup, "GET", target, Range="bytes=1000000-2600000")
        assert response.status_code == 206 and response.content == data[1_000_000:2_600_001]


@pytest.mark.parametrize("which", WHICH)
def test_multi_ranges_get_the_whole_file_and_416_says_the_size(setup: Setup, which: str) -> None:
    target = setup.targets[which]
    size = len(target.content)
    response = _request(setup, "GET", target, Range="bytes=0-9,20-29")
    assert response.status_code == 200 and response.content == target.content
    response = _request(setup, "GET", target, Range="bytes=0-0,-1")
    assert response.status_code == 200
    refused = _request(setup, "GET", target, Range=f"bytes={size}-")
    assert refused.status_code == 416
    assert refused.headers["Content-Range"] == f"bytes */{size}"
    assert _request(setup, "GET", target, Range="bytes=9-3").status_code == 200  # invalid: ignored
    head = _request(setup, "HEAD", target, Range="bytes=0-9")  # Range is for GET only
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size


@pytest.mark.parametrize("which", WHICH)
def test_if_none_match_compares_weakly_and_if_modified_since_counts_without_it(setup: Setup, which: str) -> None:
    target = setup.targets[which]
    first = _request(setup, "GET", target)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for method in ("GET", "HEAD"):
        for value in (etag, f"W/{etag}", f'"nope", W/{etag}', "*"):
            response = _request(setup, method, target, **{"If-None-Match": value})
            assert response.status_code == 304, (method, value)
            assert response.headers["ETag"] == etag and response.content == b""
        assert _request(setup, method, target, **{"If-None-Match": '"nope"'}).status_code == 200
        assert _request(setup, method, target, **{"If-Modified-Since": modified}).status_code == 304
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert _request(setup, method, target, **{"If-Modified-Since": old}).status_code == 200
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        both = _request(setup, method, target, **{"If-None-Match": '"nope"', "If-Modified-Since": modified})
        assert both.status_code == 200


@pytest.mark.parametrize("which", WHICH)
def test_if_range_uses_strong_comparison(setup: Setup, which: str) -> None:
    target = setup.targets[which]
    first = _request(setup, "HEAD", target)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    ranged = _request(setup, "GET", target, Range="bytes=0-9", **{"If-Range": etag})
    assert ranged.status_code == 206 and ranged.content == target.content[:10]
    assert _request(setup, "GET", target, Range="bytes=0-9", **{"If-Range": modified}).status_code == 206
    for stale in (f"W/{etag}", '"other"', "Mon, 01 Jan 2001 00:00:00 GMT"):
        whole = _request(setup, "GET", target, Range="bytes=0-9", **{"If-Range": stale})
        assert whole.status_code == 200 and whole.content == target.content, stale


def test_uv_reads_a_wheel_without_metadata_by_ranges(setup: Setup, tmp_path: Path) -> None:
    """uv needs `bigpub`'s metadata and the index has no `.metadata` for it:
    with `Accept-Ranges: bytes` on HEAD it reads the zip directory by ranges."""
    proxy = CountingProxy(setup.server.host, setup.server.port)
    try:
        requirements = tmp_path / "requirements.in"
        requirements.write_text("bigpub\n")
        url = index_url(f"http://{setup.server.host}:{proxy.port}", ORG, setup.token)
        out = uv(setup.server.client_env, "pip", "compile", "--index-url", url, "--no-header",
                 "--python-version", "3.11", str(requirements)).stdout
    finally:
        proxy.close()
    assert "bigpub==1.0" in out and "ranged==1.0" in out
    wheel_path = setup.targets["bigpub"].path
    wheel_requests = [s for s in proxy.seen if s.path == wheel_path]
    served = sum(s.body_bytes for s in wheel_requests)
    size = setup.upstream_wheel.stat().st_size
    print(f"uv read {served} of {size} bytes of the wheel in {len(wheel_requests)} requests:",
          [(s.method, s.range, s.status, s.body_bytes) for s in wheel_requests])
    assert any(s.method == "HEAD" for s in wheel_requests), proxy.seen
    assert all(s.range for s in wheel_requests if s.method == "GET"), wheel_requests
    assert all(s.status == 206 for s in wheel_requests if s.method == "GET"), wheel_requests
    assert 0 < served < size // 20, f"uv fetched {served} of {size} bytes: {wheel_requests}"


def test_redirect_mode_answers_head_and_conditionals_itself_and_s3_the_ranges(envelope_server, tmp_path) -> None:
    """Presigned redirects (the S3 default): HEAD and 304s come from Envelope
    with the same validators; a range GET follows the redirect to S3."""
    server = envelope_server("postgres-s3")
    wheel = make_wheel(tmp_path, "redir", "1.0", files={"redir/blob.bin": _payload(3, 300_000)})
    server.cli("org", "create", ORG)
    twine_upload(server.client_env, server.base_url, ORG, server.token(ORG, "--scope", "upload"), [wheel])
    token = server.token(ORG, "--scope", "read")
    auth = ("__token__", token)
    url = server.url(f"/{ORG}/files/{sha256_file(wheel)}/{wheel.name}")
    head = requests.head(url, auth=auth, timeout=60)
    assert head.status_code == 200 and head.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == wheel.stat().st_size and head.headers["Last-Modified"]
    etag = head.headers["ETag"]
    for method in ("GET", "HEAD"):
        response = requests.request(method, url, auth=auth, headers={"If-None-Match": f"W/{etag}"},
                                    allow_redirects=False, timeout=60)
        assert response.status_code == 304, method
    redirect = requests.get(url, auth=auth, headers={"Range": "bytes=-22"}, allow_redirects=False, timeout=60)
    assert redirect.status_code == 302
    tail = requests.get(redirect.headers["Location"], headers={"Range": "bytes=-22"}, timeout=60)
    assert tail.status_code == 206 and tail.content == wheel.read_bytes()[-22:]
    assert hashlib.sha256(requests.get(redirect.headers["Location"], timeout=60).content).hexdigest() \
        == sha256_file(wheel)
