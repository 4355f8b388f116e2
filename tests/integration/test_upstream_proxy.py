"""The upstream proxy end to end, on every backend: a second Envelope is the
upstream (PEP 691 JSON, behind a token), pip and uv install through the
proxying organization, and dependency confusion never gets through."""
from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests

from sqlalchemy import select, update

from envelope.config import Settings
from envelope.db import Database
from envelope.index.pages import API_VERSION
from envelope.models import AuditEvent, BlobCandidate
from envelope.models.base import utcnow
from tests.builders import make_wheel, sha256_file
from tests.integration.fake_upstream import Recorder
from tests.integration.clients import index_url, installed_version, pip, twine_upload, uv
from tests.services import EnvelopeServer

ORG = "acme"
PUBLIC = "pub"


@dataclass
class Setup:
    server: EnvelopeServer
    upstream: EnvelopeServer
    read_token: str
    upload_token: str
    upstream_files: dict[str, Path]


@pytest.fixture(scope="module")
def server_env(backend, redis_server) -> dict[str, str]:
    # Every stored page is stale at once: each request is answered from the
    # store and has the worker revalidate it (If-None-Match), so the tests
    # see changes on a later request and exercise the 304 path. The upstreams
    # here are local servers: loopback must be allowed explicitly. The page
    # cache is Redis (a database per backend), so a test can see what it holds.
    cache = redis_server.db_url(7 if backend.name == "sqlite-file" else 8)
    redis.Redis.from_url(cache).flushdb()
    return {"ENVELOPE_UPSTREAM_TTL": "0", "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.0/8,::1",
            "ENVELOPE_CACHE_URL": cache}


@pytest.fixture(scope="module")
def setup(server: EnvelopeServer, tmp_path_factory) -> Setup:
    upstream = EnvelopeServer(tmp_path_factory.mktemp("upstream")).start()
    dist = tmp_path_factory.mktemp("upstream-dist")
    files = {
        "sharedlib-1.0": make_wheel(dist, "sharedlib", "1.0"),
        "sharedlib-2.0": make_wheel(dist, "sharedlib", "2.0", requires_dist=["tinydep>=1"]),
        "tinydep-1.0": make_wheel(dist, "tinydep", "1.0"),
        # Dependency confusion: public names that the private organization owns or reserves.
        "billing-9.9": make_wheel(dist, "billing", "9.9"),
        "acme-secrets-1.0": make_wheel(dist, "acme-secrets", "1.0"),
    }
    upstream.cli("org", "create", PUBLIC)
    publisher = upstream.token(PUBLIC, "--scope", "upload")
    twine_upload(upstream.client_env, upstream.base_url, PUBLIC, publisher, list(files.values()))
    upstream_read = upstream.token(PUBLIC, "--scope", "read")

    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload")
    private = tmp_path_factory.mktemp("private-dist")
    twine_upload(server.client_env, server.base_url, ORG, upload, [make_wheel(private, "billing", "1.0")])
    proxy_url = f"http://__token__:{quote(upstream_read, safe='')}@{upstream.host}:{upstream.port}/{PUBLIC}/simple/"
    out = server.cli("org", "proxy", ORG, "--upstream", proxy_url, "--reserve", "Acme_*").stdout
    assert "on, http://127.0.0.1" in out and "(with credentials)" in out and "acme-*" in out
    assert upstream_read not in out
    read = server.token(ORG, "--scope", "read")
    yield Setup(server, upstream, read, upload, files)
    upstream.stop()


def _get(setup: Setup, path: str, token: str | None = None, **headers: str) -> requests.Response:
    token = setup.read_token if token is None else token
    return requests.get(setup.server.base_url + path, auth=("__token__", token), headers=headers,
                        allow_redirects=True, timeout=60)


def _json(setup: Setup, name: str, token: str | None = None) -> dict:
    response = _get(setup, f"/{ORG}/simple/{name}/", token, Accept="application/vnd.pypi.simple.v1+json")
    assert response.status_code == 200, response.text
    return response.json()


def test_pip_and_uv_install_public_packages_through_the_organization(setup: Setup, tmp_path: Path) -> None:
    env = setup.server.client_env
    url = index_url(setup.server.base_url, ORG, setup.read_token)
    pip(env, "install", "--target", str(tmp_path / "pip"), "--index-url", url, "sharedlib")
    assert installed_version(tmp_path / "pip", "sharedlib") == "2.0"
    assert installed_version(tmp_path / "pip", "tinydep") == "1.0"  # a dependency, proxied too
    uv(env, "pip", "install", "--target", str(tmp_path / "uv"), "--index-url", url, "sharedlib==1.0", "billing")
    assert installed_version(tmp_path / "uv", "sharedlib") == "1.0"
    assert installed_version(tmp_path / "uv", "billing") == "1.0"  # the private one


def test_proxied_page_points_at_envelope_with_hashes_and_metadata(setup: Setup) -> None:
    page = _json(setup, "sharedlib")
    assert page["name"] == "sharedlib" and page["versions"] == ["1.0", "2.0"]
    by_name = {f["filename"]: f for f in page["files"]}
    wheel = by_name["sharedlib-2.0-py3-none-any.whl"]
    assert wheel["url"].startswith("../../files/") and "://" not in wheel["url"]
    assert wheel["hashes"]["sha256"] == sha256_file(setup.upstream_files["sharedlib-2.0"])
    assert wheel["core-metadata"] and wheel["size"] == setup.upstream_files["sharedlib-2.0"].stat().st_size
    html = _get(setup, f"/{ORG}/simple/sharedlib/").text
    assert f"#sha256={wheel['hashes']['sha256']}" in html and "data-core-metadata" in html
    metadata = _get(setup, f"/{ORG}/simple/sharedlib/" + wheel["url"] + ".metadata")
    assert metadata.status_code == 200 and b"Requires-Dist: tinydep>=1" in metadata.content


def test_proxied_pages_track_the_upstream_and_keep_its_upload_times(setup: Setup) -> None:
    """PEP 708: the page is the upstream's project, so `tracks` names the upstream's
    page (without the credentials the proxy uses); PEP 700: upload-time is when
    the upstream first published each file, not when Envelope fetched it."""
    page = _json(setup, "sharedlib")
    assert page["meta"]["api-version"] == API_VERSION
    assert page["meta"]["tracks"] == [f"http://{setup.upstream.host}:{setup.upstream.port}/{PUBLIC}/simple/sharedlib/"]
    assert "alternate-locations" not in page  # the upstream declared none
    html = _get(setup, f"/{ORG}/simple/sharedlib/").text
    assert f'<meta name="pypi:tracks" content="{page["meta"]["tracks"][0]}">' in html
    upstream_page = requests.get(
        f"{setup.upstream.base_url}/{PUBLIC}/simple/sharedlib/", timeout=60,
        auth=("__token__", setup.upstream.token(PUBLIC, "--scope", "read")),
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    upstream_times = {f["filename"]: f["upload-time"] for f in upstream_page["files"]}
    assert {f["filename"]: f["upload-time"] for f in page["files"]} == upstream_times
    assert page["project-status"] == upstream_page["project-status"] == {"status": "active"}


def test_a_private_name_never_shows_upstream_files(setup: Setup, tmp_path: Path) -> None:
    page = _json(setup, "billing")
    # PEP 708: the private project is not the upstream's billing, and says so by claiming nothing.
    assert "tracks" not in page["meta"] and "alternate-locations" not in page
    assert [f["filename"] for f in page["files"]] == ["billing-1.0-py3-none-any.whl"]
    assert page["versions"] == ["1.0"]  # not 9.9, which only the upstream has
    # Asking for the upstream file directly is no way around it.
    sha = sha256_file(setup.upstream_files["billing-9.9"])
    assert _get(setup, f"/{ORG}/files/{sha}/billing-9.9-py3-none-any.whl").status_code == 404
    result = pip(setup.server.client_env, "download", "--no-deps", "-d", str(tmp_path), "--index-url",
                 index_url(setup.server.base_url, ORG, setup.read_token), "billing==9.9", check=False)
    assert result.returncode != 0 and "billing==9.9" in result.stderr


def test_reserved_names_are_never_proxied(setup: Setup) -> None:
    assert _get(setup, f"/{ORG}/simple/acme-secrets/").status_code == 404
    sha = sha256_file(setup.upstream_files["acme-secrets-1.0"])
    assert _get(setup, f"/{ORG}/files/{sha}/acme_secrets-1.0-py3-none-any.whl").status_code == 404


def test_a_name_published_privately_later_stops_being_proxied(setup: Setup, tmp_path: Path) -> None:
    assert _json(setup, "tinydep")["versions"] == ["1.0"]
    twine_upload(setup.server.client_env, setup.server.base_url, ORG, setup.upload_token,
                 [make_wheel(tmp_path, "tinydep", "0.5")])
    page = _json(setup, "tinydep")
    assert page["versions"] == ["0.5"]
    sha = sha256_file(setup.upstream_files["tinydep-1.0"])
    assert _get(setup, f"/{ORG}/files/{sha}/tinydep-1.0-py3-none-any.whl").status_code == 404


def test_token_restrictions_apply_to_proxied_projects(setup: Setup, tmp_path: Path) -> None:
    limited = setup.server.token(ORG, "--scope", "read", "--project", "sharedlib<2")
    assert _json(setup, "sharedlib", limited)["versions"] == ["1.0"]
    assert _get(setup, f"/{ORG}/simple/tinydep/", limited).status_code == 404
    sha = sha256_file(setup.upstream_files["sharedlib-2.0"])
    assert _get(setup, f"/{ORG}/files/{sha}/sharedlib-2.0-py3-none-any.whl", limited).status_code == 404
    assert requests.get(setup.server.url(f"/{ORG}/simple/sharedlib/"), timeout=30).status_code == 401


def test_files_are_served_from_storage_once_fetched_even_with_the_upstream_down(setup: Setup) -> None:
    page = _json(setup, "sharedlib")
    wheel = next(f for f in page["files"] if f["filename"] == "sharedlib-1.0-py3-none-any.whl")
    first = _get(setup, f"/{ORG}/simple/sharedlib/" + wheel["url"])
    assert first.status_code == 200
    assert first.content == setup.upstream_files["sharedlib-1.0"].read_bytes()
    setup.upstream.stop()
    try:
        # The page was stored; with the upstream gone it is served stale rather than failing.
        assert _json(setup, "sharedlib")["versions"] == ["1.0", "2.0"]
        again = _get(setup, f"/{ORG}/simple/sharedlib/" + wheel["url"])
        assert again.status_code == 200 and again.content == first.content
        # A name never fetched before cannot be invented: the upstream's failure is reported.
        missing = _get(setup, f"/{ORG}/simple/never-seen/")
        assert missing.status_code == 502 and "could not be reached" in missing.reason
    finally:
        setup.upstream.start()


def test_disabling_the_proxy_hides_upstream_names(setup: Setup) -> None:
    assert _get(setup, f"/{ORG}/simple/sharedlib/").status_code == 200
    setup.server.cli("org", "proxy", ORG, "--disable")
    try:
        assert _get(setup, f"/{ORG}/simple/sharedlib/").status_code == 404
    finally:
        setup.server.cli("org", "proxy", ORG, "--upstream", _upstream_url(setup))


def test_an_evicted_upstream_file_is_fetched_again_when_pip_and_uv_install_it(setup: Setup, tmp_path: Path) -> None:
    """The cache budget end to end, as an operator runs it: `envelope org
    proxy --cache-max-size`, `envelope collect`, the blobs gone after the
    grace period, and installs that fetch the files from upstream again. Its
    own organization, and a name (acme-secrets) acme never proxies, so no
    other organization's copy keeps the blobs."""
    server, org = setup.server, "cacheorg"
    server.cli("org", "create", org)
    server.cli("org", "proxy", org, "--upstream", _upstream_url(setup))
    url = index_url(server.base_url, org, server.token(org, "--scope", "read"))
    pip(server.client_env, "install", "--target", str(tmp_path / "first"), "--index-url", url, "acme-secrets")
    shown = server.cli("org", "proxy", org).stdout
    assert "Cache budget: none, kept forever; cached now: " in shown and " in 2 files." in shown  # wheel, .metadata

    shown = server.cli("org", "proxy", org, "--cache-max-size", "0", "--cache-max-age", "90d").stdout
    assert "Cache budget: at most 0 bytes, each used within 90d; cached now: " in shown
    dry = server.cli("collect", "--dry-run").stdout
    assert f"{org}: would evict acme_secrets-1.0-py3-none-any.whl (" in dry and "over the 0 bytes budget" in dry
    assert "cached now: 0 bytes" not in server.cli("org", "proxy", org).stdout  # a dry run evicts nothing
    out = server.cli("collect").stdout
    assert f"{org}: evicted 2 cached upstream files (" in out and "0 files (0 bytes) stay" in out
    assert "Removed 0 unreferenced blobs" in out and "removed by the first run 10 minutes from now" in out
    assert "cached now: 0 bytes in 0 files." in server.cli("org", "proxy", org).stdout

    db = Database(Settings.from_env(server.env).database_url)
    try:
        with db.write() as session:  # as if the grace period had passed
            session.execute(update(BlobCandidate).values(marked=utcnow() - timedelta(hours=1)))
        with db.read() as session:
            events = session.scalars(select(AuditEvent).where(AuditEvent.action == "proxy.cache_evict")).all()
            assert [e.detail["files"] for e in events] == [2]
    finally:
        db.dispose()
    assert server.cli("collect").stdout == "Removed 2 unreferenced blobs; 0 were in use again.\n"

    pip(server.client_env, "install", "--target", str(tmp_path / "pip"), "--index-url", url, "acme-secrets")
    assert installed_version(tmp_path / "pip", "acme_secrets") == "1.0"
    assert " in 2 files." in server.cli("org", "proxy", org).stdout  # fetched from upstream again
    uv(server.client_env, "pip", "install", "--target", str(tmp_path / "uv"), "--index-url", url, "acme-secrets")
    assert installed_version(tmp_path / "uv", "acme_secrets") == "1.0"

    shown = server.cli("org", "proxy", org, "--cache-max-size", "none", "--cache-max-age", "none").stdout
    assert "Cache budget: none, kept forever; cached now: " in shown and " in 2 files." in shown
    assert org not in server.cli("collect").stdout  # no budget: nothing of it is evicted


def _upstream_url(setup: Setup) -> str:
    token = setup.upstream.token(PUBLIC, "--scope", "read")
    return f"http://__token__:{quote(token, safe='')}@{setup.upstream.host}:{setup.upstream.port}/{PUBLIC}/simple/"


# --- a hand-written upstream: HTML pages, files on another host ----------------------


def test_html_upstream_credentials_stay_on_its_host_and_bad_bytes_are_refused(setup: Setup, tmp_path: Path) -> None:
    good = make_wheel(tmp_path, "htmlpkg", "1.0")
    bad = make_wheel(tmp_path, "htmlpkg", "1.1")
    files_host = Recorder({
        "/f/" + good.name: ("application/octet-stream", good.read_bytes()),
        "/f/" + bad.name: ("application/octet-stream", b"not the bytes the page promised"),
    })
    links = "".join(
        f'<a href="{files_host.base}/f/{p.name}#sha256={sha256_file(p)}">{p.name}</a>\n' for p in (good, bad)
    )
    index_host = Recorder({"/simple/htmlpkg/": ("text/html", f"<html><body>{links}</body></html>".encode())})
    org = "htmlorg"
    setup.server.cli("org", "create", org)
    upstream = f"http://mirror:s3cret@127.0.0.1:{index_host.server_address[1]}/simple/"
    setup.server.cli("org", "proxy", org, "--upstream", upstream)
    token = setup.server.token(org, "--scope", "read")
    try:
        env = setup.server.client_env
        pip(env, "install", "--target", str(tmp_path / "t"), "--index-url",
            index_url(setup.server.base_url, org, token), "htmlpkg==1.0")
        assert installed_version(tmp_path / "t", "htmlpkg") == "1.0"
        assert any(h.get("Authorization", "").startswith("Basic ") for _, h in index_host.seen)
        assert files_host.seen and not any("Authorization" in h for _, h in files_host.seen)

        refused = requests.get(setup.server.url(f"/{org}/files/{sha256_file(bad)}/{bad.name}"),
                               auth=("__token__", token), timeout=60)
        assert refused.status_code == 502 and "does not match the sha256" in refused.reason
        again = requests.get(setup.server.url(f"/{org}/files/{sha256_file(bad)}/{bad.name}"),
                             auth=("__token__", token), timeout=60)
        assert again.status_code == 502  # nothing was stored: the next try fetches (and refuses) again
    finally:
        index_host.shutdown()
        files_host.shutdown()


def test_a_json_upstream_s_708_keys_status_and_upload_times_reach_uv_exclude_newer(setup: Setup, tmp_path: Path) -> None:
    """An upstream that is itself a mirror: its `tracks` (the owner) replace our
    default, its alternate locations and PEP 792 status are carried, foreign
    URLs are dropped, and uv's --exclude-newer sees the upstream's upload times."""
    old, new = make_wheel(tmp_path, "timedpkg", "1.0"), make_wheel(tmp_path, "timedpkg", "2.0")
    files_host = Recorder({"/f/" + p.name: ("application/octet-stream", p.read_bytes()) for p in (old, new)})
    times = {old.name: "2020-01-02T03:04:05.000000Z", new.name: "2024-06-01T00:00:00.000000Z"}
    upstream_page = {
        "meta": {"api-version": "1.4",
                 "tracks": ["https://pypi.org/simple/timedpkg/", "https://elsewhere.example/simple/otherpkg/"]},
        "name": "timedpkg",
        "alternate-locations": ["https://alt.example/simple/timedpkg/"],
        "project-status": {"status": "deprecated", "reason": "use newpkg"},
        "versions": ["1.0", "2.0"],
        "files": [{"filename": p.name, "url": f"{files_host.base}/f/{p.name}", "hashes": {"sha256": sha256_file(p)},
                   "size": p.stat().st_size, "upload-time": times[p.name]} for p in (old, new)],
    }
    index_host = Recorder({"/simple/timedpkg/": ("application/vnd.pypi.simple.v1+json",
                                                  json.dumps(upstream_page).encode())})
    org = "timeorg"
    setup.server.cli("org", "create", org)
    setup.server.cli("org", "proxy", org, "--upstream", f"{index_host.base}/simple/")
    token = setup.server.token(org, "--scope", "read")
    try:
        page = requests.get(setup.server.url(f"/{org}/simple/timedpkg/"), auth=("__token__", token), timeout=60,
                            headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        assert page["meta"]["tracks"] == ["https://pypi.org/simple/timedpkg/"]
        assert page["alternate-locations"] == ["https://alt.example/simple/timedpkg/"]
        assert page["project-status"] == {"status": "deprecated", "reason": "use newpkg"}
        assert {f["filename"]: f["upload-time"] for f in page["files"]} == times
        html = requests.get(setup.server.url(f"/{org}/simple/timedpkg/"), auth=("__token__", token), timeout=60).text
        for meta in ('name="pypi:tracks" content="https://pypi.org/simple/timedpkg/"',
                     'name="pypi:alternate-locations" content="https://alt.example/simple/timedpkg/"',
                     'name="pypi:project-status" content="deprecated"',
                     'name="pypi:project-status-reason" content="use newpkg"'):
            assert f"<meta {meta}>" in html
        assert "elsewhere.example" not in html

        env, url = setup.server.client_env, index_url(setup.server.base_url, org, token)
        uv(env, "pip", "install", "--target", str(tmp_path / "then"), "--index-url", url,
           "--exclude-newer", "2022-01-01T00:00:00Z", "timedpkg")
        assert installed_version(tmp_path / "then", "timedpkg") == "1.0"
        uv(env, "pip", "install", "--target", str(tmp_path / "now"), "--index-url", url, "timedpkg")
        assert installed_version(tmp_path / "now", "timedpkg") == "2.0"
    finally:
        index_host.shutdown()
        files_host.shutdown()


# --- stale pages answer at once; the worker refreshes them --------------------------------


class _GatedUpstream(ThreadingHTTPServer):
    """One HTML project page whose answers wait while `gate` is closed: an
    upstream as slow as one likes, for as long as the test likes."""

    daemon_threads = True

    def __init__(self, name: str) -> None:
        self.name, self.gate, self.versions, self.page_requests = name, threading.Event(), ["1.0"], 0
        self.gate.set()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"/simple/{upstream.name}/":
                    body, status = b"no", 404
                else:
                    upstream.page_requests += 1
                    upstream.gate.wait(30)
                    body, status = upstream.page(), 200
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def page(self) -> bytes:
        links = "".join(f'<a href="/files/{self.name}-{v}-py3-none-any.whl#sha256={"ab" * 32}">'
                        f"{self.name}-{v}-py3-none-any.whl</a>" for v in self.versions)
        return f"<html><body>{links}</body></html>".encode()


def test_a_stale_page_is_answered_from_the_store_and_refreshed_by_the_worker(setup: Setup) -> None:
    upstream = _GatedUpstream("gatedpkg")
    setup.server.cli("org", "create", "gated")
    setup.server.cli("org", "proxy", "gated", "--upstream", f"http://127.0.0.1:{upstream.server_address[1]}/simple/")
    token = setup.server.token("gated", "--scope", "read")

    def versions() -> list[str]:
        response = _get(setup, "/gated/simple/gatedpkg/", token, Accept="application/vnd.pypi.simple.v1+json")
        assert response.status_code == 200, response.text
        return response.json()["versions"]

    def settle(requests_seen: int) -> None:  # the worker's refresh has reached the upstream
        deadline = time.monotonic() + 60
        while upstream.page_requests < requests_seen:
            assert time.monotonic() < deadline, "the worker never asked the upstream"
            time.sleep(0.1)

    try:
        assert versions() == ["1.0"]  # never seen: this one request waited for the upstream
        assert upstream.page_requests == 1
        upstream.gate.clear()  # the upstream hangs from now on
        upstream.versions = ["1.0", "2.0"]
        # Stale (TTL 0): answered from the store at once while the worker's refresh hangs upstream...
        assert versions() == ["1.0"]
        settle(2)
        # ...and a burst of stale requests queues no second refresh while that one is under way.
        for _ in range(10):
            assert versions() == ["1.0"]
        time.sleep(1.0)
        assert upstream.page_requests == 2
        upstream.gate.set()  # the upstream answers: the worker stores 2.0, a later request sees it
        deadline = time.monotonic() + 60
        while versions() != ["1.0", "2.0"]:
            assert time.monotonic() < deadline, "the worker never refreshed the stale page"
            time.sleep(0.2)
        assert "envelope.refresh_upstream_page" in setup.server.log_text()
    finally:
        upstream.gate.set()
        upstream.shutdown()
        upstream.server_close()


def test_a_warm_proxied_page_is_rendered_once_into_the_page_cache(setup: Setup) -> None:
    """The rendered page, and its gzip encoding, live in the page cache under
    the stored page's digest: a marker written into that entry is what the
    next request gets, so nothing rendered the page again."""
    cache = redis.Redis.from_url(setup.server.env["ENVELOPE_CACHE_URL"])
    assert "sharedlib" in json.dumps(_json(setup, "sharedlib"))
    # upstream:{organization}:{name}:{stored page}:{digest}:{restriction}:{format}; earlier tests
    # left pages of other restrictions and of a stored page since dropped (the proxy was turned off).
    json_keys = sorted((k for k in cache.keys("upstream:*:sharedlib:*:all:1")), key=lambda k: int(k.split(b":")[3]))
    assert json_keys, cache.keys("upstream:*")
    json_keys = json_keys[-1:]
    page = json.loads(cache.get(json_keys[0]))
    assert page["name"] == "sharedlib" and cache.get(json_keys[0] + b":gzip") is not None  # requests asks for gzip
    marked = json.dumps({**page, "versions": ["from-the-cache"]}).encode()
    cache.set(json_keys[0], marked)
    cache.set(json_keys[0] + b":gzip", gzip.compress(marked))
    assert _json(setup, "sharedlib")["versions"] == ["from-the-cache"]
    plain = requests.get(setup.server.url(f"/{ORG}/simple/sharedlib/"), auth=("__token__", setup.read_token),
                         headers={"Accept": "application/vnd.pypi.simple.v1+json", "Accept-Encoding": "identity"},
                         timeout=60)
    assert plain.json()["versions"] == ["from-the-cache"] and "Content-Encoding" not in plain.headers
    cache.delete(json_keys[0], json_keys[0] + b":gzip")  # rendered again on the next request
    assert _json(setup, "sharedlib")["versions"] != ["from-the-cache"]


# --- a proxy that waits: the organization's minimum age for upstream files ---------------


def _stamp(moment: float) -> str:
    """An epoch time as PEP 700 upload-time."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(moment))


def _json_upstream(tmp_path: Path, releases: dict[str, list[tuple[str, str | None]]],
                   index_host: Recorder | None = None) -> tuple[Recorder, Recorder, dict[str, Path]]:
    """A PEP 691 upstream: project -> [(version, upload-time or None)], files on a second host;
    the pages are added to `index_host` when given."""
    wheels = {f"{name}-{version}": make_wheel(tmp_path, name, version)
              for name, versions in releases.items() for version, _ in versions}
    files_host = Recorder({"/f/" + p.name: ("application/octet-stream", p.read_bytes()) for p in wheels.values()})
    routes = {}
    for name, versions in releases.items():
        entries = []
        for version, uploaded in versions:
            wheel = wheels[f"{name}-{version}"]
            entry = {"filename": wheel.name, "url": f"{files_host.base}/f/{wheel.name}",
                     "hashes": {"sha256": sha256_file(wheel)}, "size": wheel.stat().st_size}
            if uploaded is not None:
                entry["upload-time"] = uploaded
            entries.append(entry)
        page = {"meta": {"api-version": "1.1"}, "name": name, "versions": [v for v, _ in versions], "files": entries}
        routes[f"/simple/{name}/"] = ("application/vnd.pypi.simple.v1+json", json.dumps(page).encode())
    if index_host is None:
        return Recorder(routes), files_host, wheels
    index_host.routes.update(routes)
    return index_host, files_host, wheels


def test_a_minimum_age_holds_back_fresh_upstream_versions_from_pages_downloads_pip_and_uv(
        setup: Setup, tmp_path: Path) -> None:
    now = time.time()
    index_host, files_host, wheels = _json_upstream(tmp_path, {
        "heldpkg": [("1.0", _stamp(now - 10 * 86400)), ("2.0", _stamp(now - 3600))],
        # No upload-time: its age cannot be known, and it is offered (docs/upstream-proxy.md).
        "untimed": [("1.0", None)],
    })
    org = "waitorg"
    setup.server.cli("org", "create", org)
    out = setup.server.cli("org", "proxy", org, "--upstream", f"{index_host.base}/simple/", "--min-age", "3d").stdout
    assert "Minimum age of upstream files: 3d (0 versions held back so far)." in out
    token = setup.server.token(org, "--scope", "read")
    try:
        # The pages: JSON and HTML offer only the old version, as if 2.0 were not published yet.
        for _ in range(3):
            page = _get(setup, f"/{org}/simple/heldpkg/", token, Accept="application/vnd.pypi.simple.v1+json").json()
            assert page["versions"] == ["1.0"] and [f["filename"] for f in page["files"]] == [wheels["heldpkg-1.0"].name]
        html = _get(setup, f"/{org}/simple/heldpkg/", token).text
        assert wheels["heldpkg-1.0"].name in html and "2.0" not in html
        assert _get(setup, f"/{org}/simple/untimed/", token, Accept="application/vnd.pypi.simple.v1+json").json()["versions"] == ["1.0"]

        # The clients: pip and uv install the old version instead of the fresh one.
        env, url = setup.server.client_env, index_url(setup.server.base_url, org, token)
        pip(env, "install", "--target", str(tmp_path / "pip"), "--index-url", url, "heldpkg", "untimed")
        assert installed_version(tmp_path / "pip", "heldpkg") == "1.0"
        assert installed_version(tmp_path / "pip", "untimed") == "1.0"
        uv(env, "pip", "install", "--target", str(tmp_path / "uv"), "--index-url", url, "heldpkg")
        assert installed_version(tmp_path / "uv", "heldpkg") == "1.0"
        refused = pip(env, "install", "--target", str(tmp_path / "no"), "--index-url", url, "heldpkg==2.0", check=False)
        assert refused.returncode != 0 and "No matching distribution found for heldpkg==2.0" in refused.stdout + refused.stderr

        # A held file's download answers 404 even by its exact URL; the fetch never reaches the upstream.
        fresh = wheels["heldpkg-2.0"]
        held = _get(setup, f"/{org}/files/{sha256_file(fresh)}/{fresh.name}", token)
        assert held.status_code == 404
        held_metadata = _get(setup, f"/{org}/files/{sha256_file(fresh)}/{fresh.name}.metadata", token)
        assert held_metadata.status_code == 404
        assert not any(path.endswith(fresh.name) for path, _ in files_host.seen)

        # Logged once per fetch or refresh of the page, never per request; counted once per version.
        page_fetches = sum(1 for path, _ in index_host.seen if path == "/simple/heldpkg/")
        logged = setup.server.log_text().count(f"upstream proxy holds back heldpkg (minimum age 3d): 2.0 until ")
        assert 1 <= logged <= page_fetches
        out = setup.server.cli("org", "proxy", org).stdout
        assert "Minimum age of upstream files: 3d (1 version held back so far)." in out

        # Turned off, the fresh version is offered at once.
        setup.server.cli("org", "proxy", org, "--min-age", "0")
        page = _get(setup, f"/{org}/simple/heldpkg/", token, Accept="application/vnd.pypi.simple.v1+json").json()
        assert page["versions"] == ["1.0", "2.0"]
        assert _get(setup, f"/{org}/files/{sha256_file(fresh)}/{fresh.name}", token).status_code == 200
    finally:
        index_host.shutdown()
        files_host.shutdown()


def test_a_held_version_comes_of_age_on_a_cached_page_whose_upstream_never_changed(setup: Setup, tmp_path: Path) -> None:
    """The page cache is keyed by the stored page's serial; with a minimum age
    the serial also counts the upload times past the cut, so a held file
    appears the moment it is old enough, with a new ETag, though the upstream
    answered the very same page all along."""
    index_host = Recorder({})
    org = "agingorg"
    setup.server.cli("org", "create", org)
    setup.server.cli("org", "proxy", org, "--upstream", f"{index_host.base}/simple/", "--min-age", "8s")
    token = setup.server.token(org, "--scope", "read")
    now = time.time()  # 2.0 is published upstream a second ago, and held for 8 seconds
    index_host, files_host, wheels = _json_upstream(tmp_path, {
        "agingpkg": [("1.0", _stamp(now - 86400)), ("2.0", _stamp(now - 1))],
    }, index_host)
    json_accept = "application/vnd.pypi.simple.v1+json"
    try:
        first = _get(setup, f"/{org}/simple/agingpkg/", token, Accept=json_accept)
        assert first.json()["versions"] == ["1.0"]
        etag = first.headers["ETag"]
        assert _get(setup, f"/{org}/simple/agingpkg/", token, Accept=json_accept, **{"If-None-Match": etag}).status_code == 304
        deadline = time.monotonic() + 60
        while (page := _get(setup, f"/{org}/simple/agingpkg/", token, Accept=json_accept)).json()["versions"] != ["1.0", "2.0"]:
            assert time.monotonic() < deadline, "the held version never came of age"
            time.sleep(0.5)
        assert time.time() >= int(now - 1) + 8  # not before its time (upload-time here has whole seconds)
        assert page.headers["ETag"] != etag
        # A client holding the old page's ETag is sent the new page, not 304.
        assert _get(setup, f"/{org}/simple/agingpkg/", token, Accept=json_accept, **{"If-None-Match": etag}).status_code == 200
        env, url = setup.server.client_env, index_url(setup.server.base_url, org, token)
        pip(env, "install", "--target", str(tmp_path / "pip"), "--index-url", url, "agingpkg")
        assert installed_version(tmp_path / "pip", "agingpkg") == "2.0"
    finally:
        index_host.shutdown()
        files_host.shutdown()
