"""Hostile tenants against the upstream proxy, through HTTP on every backend.

One organization must never read another's private mirror through
Envelope's copies; no organization may point the proxy at the instance's own
network (loopback, private ranges, the metadata service), learn what answers
there, or tie up the server with an upstream that never answers.

The local upstreams listen on 127.0.0.2, the one non-public address this
module's server may reach (ENVELOPE_UPSTREAM_ALLOW_ADDRESSES); 127.0.0.1 and
everything else non-public stays refused.
"""
from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.builders import make_wheel, sha256_file
from tests.services import EnvelopeServer, free_port

ALLOWED_HOST = "127.0.0.2"
TTL = 2  # seconds an upstream page stays fresh in this module
DEADLINE = 2  # seconds for one upstream page fetch
CLIENT_TIMEOUT = 60  # seconds; generous: the server's own deadline must end requests long before


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ENVELOPE_UPSTREAM_TTL": str(TTL), "ENVELOPE_UPSTREAM_TIMEOUT": str(DEADLINE),
            "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": ALLOWED_HOST}


class Mirror(ThreadingHTTPServer):
    """A private simple index: every page and file needs Basic auth mirror:s3cret.

    `mode` switches it to "down" (500 for everything) or "revoked" (401 for
    everything, the credentials no longer work)."""

    daemon_threads = True
    USER, PASSWORD = "mirror", "s3cret"

    def __init__(self, wheel: Path, *, host: str = ALLOWED_HOST) -> None:
        self.wheel = wheel
        self.mode = "up"
        self.file_requests = 0
        mirror = self
        expected = "Basic " + base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if mirror.mode == "down":
                    return self._send(500, "text/plain", b"down")
                if mirror.mode == "revoked" or self.headers.get("Authorization") != expected:
                    return self._send(401, "text/plain", b"who are you?", {"WWW-Authenticate": 'Basic realm="m"'})
                name = mirror.wheel.name
                if self.path == "/simple/secretpkg/":
                    link = f'<a href="{mirror.base}/files/{name}#sha256={sha256_file(mirror.wheel)}">{name}</a>'
                    return self._send(200, "text/html", f"<html><body>{link}</body></html>".encode())
                if self.path == f"/files/{name}":
                    mirror.file_requests += 1
                    return self._send(200, "application/octet-stream", mirror.wheel.read_bytes())
                return self._send(404, "text/plain", b"no")

            def _send(self, status: int, content_type: str, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                for key, value in {"Content-Type": content_type, "Content-Length": str(len(body)),
                                   **(headers or {})}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__((host, 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def index_url(self, credentials: str | None) -> str:
        auth = f"{credentials}@" if credentials else ""
        return f"http://{auth}{self.server_address[0]}:{self.server_address[1]}/simple/"


class Tarpit:
    """Accepts connections and never answers; with `drip`, sends an endless
    header one byte at a time, so every read is quick and only a total
    deadline ends the request."""

    def __init__(self, *, drip: bool = False) -> None:
        self.listener = socket.create_server((ALLOWED_HOST, 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.drip = drip
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)
            if self.drip:
                threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._stop.wait(0.3):
                conn.sendall(b"a")
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        for conn in self.accepted:
            conn.close()


def _get(server: EnvelopeServer, path: str, token: str) -> requests.Response:
    return requests.get(server.url(path), auth=("__token__", token), timeout=CLIENT_TIMEOUT)


def _org(server: EnvelopeServer, name: str, upstream: str | None = None) -> str:
    """Create organization `name`, proxying `upstream` if given; returns a read token."""
    server.cli("org", "create", name)
    if upstream is not None:
        server.cli("org", "proxy", name, "--upstream", upstream)
    return server.token(name, "--scope", "read")


@pytest.fixture
def mirror(tmp_path: Path):
    server = Mirror(make_wheel(tmp_path, "secretpkg", "1.0"))
    yield server
    server.shutdown()
    server.server_close()


# --- item 1: one organization's copies are not another's ------------------------------------


def test_another_organization_never_reads_a_private_mirror_through_envelope(server: EnvelopeServer,
                                                                            mirror: Mirror) -> None:
    acme = _org(server, "acme", mirror.index_url("mirror:s3cret"))
    evil = _org(server, "evil", mirror.index_url(None))
    guess = _org(server, "guess", mirror.index_url("mirror:guessed"))
    wheel = mirror.wheel.name
    file_path = f"/files/{sha256_file(mirror.wheel)}/{wheel}"

    assert _get(server, "/acme/simple/secretpkg/", acme).status_code == 200
    assert _get(server, "/acme" + file_path, acme).content == mirror.wheel.read_bytes()
    for org, token in (("evil", evil), ("guess", guess)):
        # acme's page and file are stored and fresh: still nothing for the others.
        assert _get(server, f"/{org}/simple/secretpkg/", token).status_code == 404
        assert _get(server, f"/{org}{file_path}", token).status_code == 404
        assert _get(server, f"/{org}{file_path}.metadata", token).status_code == 404

    time.sleep(TTL + 0.5)  # every stored page is stale now: the upstream is asked again
    for org, token in (("evil", evil), ("guess", guess)):
        assert _get(server, f"/{org}/simple/secretpkg/", token).status_code == 404
        assert _get(server, f"/{org}{file_path}", token).status_code == 404
    assert _get(server, "/acme/simple/secretpkg/", acme).status_code == 200
    assert _get(server, "/acme" + file_path, acme).status_code == 200
    assert mirror.file_requests == 1  # only acme's own first download reached the mirror


def test_revoked_credentials_end_the_stale_copy_an_outage_does_not(server: EnvelopeServer, mirror: Mirror) -> None:
    token = _org(server, "revoked", mirror.index_url("mirror:s3cret"))
    file_path = f"/revoked/files/{sha256_file(mirror.wheel)}/{mirror.wheel.name}"
    assert _get(server, "/revoked/simple/secretpkg/", token).status_code == 200
    assert _get(server, file_path, token).status_code == 200

    mirror.mode = "down"  # an outage: the organization's own last copy keeps serving
    time.sleep(TTL + 0.5)
    assert _get(server, "/revoked/simple/secretpkg/", token).status_code == 200
    assert _get(server, file_path, token).status_code == 200

    mirror.mode = "revoked"  # the upstream now refuses these credentials: believe it on the next refresh
    # A stale page is answered from the store while the worker revalidates it
    # (envelope.upstream.pages.current_page): the refusal it meets drops the page.
    deadline = time.monotonic() + 60
    while _get(server, "/revoked/simple/secretpkg/", token).status_code != 404:
        assert time.monotonic() < deadline, "the refusal never ended the stale copy"
        time.sleep(0.2)
    assert _get(server, "/revoked/simple/secretpkg/", token).status_code == 404
    assert _get(server, file_path, token).status_code == 404


# --- item 3: the proxy as a weapon ----------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "[::1]:{port}", "169.254.169.254", "0x7f000001:{port}",
                                  "localhost:{port}"])
def test_non_public_upstreams_are_refused_when_configured(server: EnvelopeServer, host: str) -> None:
    org = "cfg-" + hashlib.sha256(host.encode()).hexdigest()[:8]
    server.cli("org", "create", org)
    result = server.cli("org", "proxy", org, "--upstream", f"http://{host.format(port=server.port)}/simple/",
                        check=False)
    assert result.returncode != 0
    assert "private or reserved network address" in result.stderr
    assert "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES" in result.stderr
    assert "Upstream proxy for" not in result.stdout
    shown = server.cli("org", "proxy", org).stdout
    assert f"Upstream proxy for {org}: off." in shown  # nothing changed


class _Redirector(ThreadingHTTPServer):
    """An allowed upstream whose page redirects to, or whose file lives on, a refused address."""

    daemon_threads = True

    def __init__(self, target: str, wheel: Path) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/simple/hop/":
                    self.send_response(302)
                    self.send_header("Location", f"{target}/simple/hop/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                link = f'<a href="{target}/f/{wheel.name}#sha256={sha256_file(wheel)}">{wheel.name}</a>'
                body = f"<html><body>{link}</body></html>".encode()
                self.send_response(200 if self.path == "/simple/remote/" else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__((ALLOWED_HOST, 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_redirects_and_file_urls_to_refused_addresses_are_not_followed(server: EnvelopeServer,
                                                                       tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "remote", "1.0")
    # What sits on loopback: it would answer anything, if it were ever asked.
    inside = Mirror(wheel, host="127.0.0.1")
    redirector = _Redirector(f"http://127.0.0.1:{inside.server_address[1]}", wheel)
    try:
        token = _org(server, "hops", f"http://{ALLOWED_HOST}:{redirector.server_address[1]}/simple/")
        hop = _get(server, "/hops/simple/hop/", token)
        assert hop.status_code == 502 and "could not be reached" in hop.reason
        assert _get(server, "/hops/simple/remote/", token).status_code == 200  # the page itself is fine
        download = _get(server, f"/hops/files/{sha256_file(wheel)}/{wheel.name}", token)
        assert download.status_code == 502 and "could not be reached" in download.reason
        assert inside.file_requests == 0
    finally:
        for s in (inside, redirector):
            s.shutdown()
            s.server_close()


def test_a_closed_port_reads_exactly_like_an_http_error(server: EnvelopeServer) -> None:
    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    failing = ThreadingHTTPServer((ALLOWED_HOST, 0), Failing)
    threading.Thread(target=failing.serve_forever, daemon=True).start()
    try:
        closed = _org(server, "closedport", f"http://{ALLOWED_HOST}:{free_port()}/simple/")
        erring = _org(server, "erring", f"http://{ALLOWED_HOST}:{failing.server_address[1]}/simple/")
        a = _get(server, "/closedport/simple/probe/", closed)
        b = _get(server, "/erring/simple/probe/", erring)
        assert a.status_code == b.status_code == 502
        assert a.reason == b.reason and a.text == b.text
        assert "could not be reached" in a.reason
        assert "500" not in a.text and "Error" not in a.text and "Connection" not in a.text
    finally:
        failing.shutdown()
        failing.server_close()


def test_an_upstream_that_trickles_forever_is_cut_off_at_the_deadline(server: EnvelopeServer) -> None:
    tarpit = Tarpit(drip=True)
    try:
        token = _org(server, "trickle", f"http://{ALLOWED_HOST}:{tarpit.port}/simple/")
        response = _get(server, "/trickle/simple/anything/", token)  # would hang past CLIENT_TIMEOUT unbounded
        assert response.status_code == 502 and "could not be reached" in response.reason
        assert tarpit.accepted
    finally:
        tarpit.close()


def test_a_tarpit_upstream_does_not_starve_other_organizations(server: EnvelopeServer) -> None:
    tarpit = Tarpit()
    try:
        slow = _org(server, "tarpitted", f"http://{ALLOWED_HOST}:{tarpit.port}/simple/")
        other = _org(server, "bystander")
        with ThreadPoolExecutor(max_workers=16) as pool:
            hammering = [pool.submit(_get, server, f"/tarpitted/simple/name-{i}/", slow) for i in range(16)]
            while not tarpit.accepted:  # the upstream is now holding some of the server's threads
                time.sleep(0.05)
            bystander = _get(server, "/bystander/simple/", other)
            assert bystander.status_code == 200
            results = [f.result() for f in hammering]
        statuses = [r.status_code for r in results]
        assert set(statuses) <= {502, 503}, statuses
        busy = [r for r in results if r.status_code == 503]
        assert busy, "excess requests for one organization's upstream are turned away at once"
        assert all(r.headers.get("Retry-After") for r in busy)
        assert all("could not be reached" in r.reason for r in results if r.status_code == 502)
    finally:
        tarpit.close()
