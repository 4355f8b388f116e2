"""A fake GitHub REST API, plus its asset CDN, for Envelope's tests.

GitHub cannot be reached from the test machines, so this module stands in for it.
It has no pytest dependency: use it from a fixture, a REPL or a benchmark.

Two threaded HTTP servers on free 127.0.0.1 ports:

* the **API host** (``fake.api_url``): ``/repos/{owner}/{repo}``, its releases
  (paginated, ``Link`` headers, newest first), release assets, ``/rate_limit``,
  ``/users/{login}``, ``/user``; the same routes under ``/repositories/{id}``
  (GitHub's own pagination links use that form). It also answers the web
  ``browser_download_url`` path (``/{owner}/{repo}/releases/download/{tag}/{name}``).
  JSON bodies have GitHub's shapes; responses carry GitHub's headers (``ETag``,
  ``X-GitHub-Request-Id``, ``X-RateLimit-*`` ...). ``If-None-Match`` answers 304.
* the **objects host** (``fake.objects_url``), like objects.githubusercontent.com:
  ``GET {api}/repos/o/r/releases/assets/{id}`` with ``Accept: application/octet-stream``
  answers ``302`` to a signed-looking URL on this host. It serves the bytes
  (``Range`` supported), and records a leak (answering 400, as S3 does) whenever a
  request arrives with an ``Authorization`` header.

Example::

    with FakeGitHub() as gh:
        repo = gh.add_repo("acme", "widgets", private=True, token="ghp_x")
        rel = gh.add_release(repo.full_name, "v1.0.0")
        asset = gh.add_asset(repo.full_name, rel["id"], "widgets-1.0.0-py3-none-any.whl", data)
        ...  # point Envelope at gh.api_url
        gh.assert_no_auth_leaks()

Faithful details worth knowing:

* A repo added with ``token=`` answers 404 to any request without that token, as
  GitHub does for private repos. A token no repo (and no ``add_token``) knows
  answers 401 ``Bad credentials`` on every API route, as GitHub does.
* Drafts are listed (and readable by id) only for a private repo and its token.
* Pagination ``Link`` URLs point at ``/repositories/{repo_id}/releases?...`` like
  GitHub's; pass ``repository_id_links=False`` for ``/repos/{owner}/{repo}/...``.
* ETags are ``W/"<sha256>"`` of the body plus the revisions of the objects in it:
  every mutation of a release or asset changes the ETag of the list pages and
  detail resources that show it. 304s and ``/rate_limit`` do not use up the rate
  limit. Error and 302 responses carry no ETag (as on GitHub); a 304 repeats it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import itertools
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

__all__ = [
    "FakeGitHub",
    "FakeRepo",
    "RecordedRequest",
    "ping_payload",
    "release_event_payload",
    "sign_payload",
    "webhook_body",
    "webhook_headers",
]

LOOPBACK = "127.0.0.1"
API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
OBJECTS_BUCKET = "github-production-release-asset-2e65be"
CHUNK = 64 * 1024

# github-actions[bot]: who creates releases and uploads assets from CI.
ACTIONS_BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}

_DOC_URLS = {
    "repo": f"{DOCS}/repos/repos#get-a-repository",
    "releases": f"{DOCS}/releases/releases#list-releases",
    "release": f"{DOCS}/releases/releases#get-a-release",
    "tag": f"{DOCS}/releases/releases#get-a-release-by-tag-name",
    "latest": f"{DOCS}/releases/releases#get-the-latest-release",
    "assets": f"{DOCS}/releases/assets#list-release-assets",
    "asset": f"{DOCS}/releases/assets#get-a-release-asset",
    "user": f"{DOCS}/users/users#get-a-user",
}

_ERROR_MESSAGES = {
    400: "Problems parsing JSON",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    429: "Too Many Requests",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request "
    "and contact us if the problem persists.",
}

_VARY = "Accept, Authorization, Cookie, X-GitHub-OTP,Accept-Encoding, Accept, X-Requested-With"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id, e.g. ``MDc6UmVsZWFzZTE3MzcyNzkw`` for Release 17372790."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class RecordedRequest(NamedTuple):
    """One request as a server saw it: host is ``"api"`` or ``"objects"``; path includes the query;
    ``at`` is when it arrived (``time.monotonic()``)."""

    host: str
    method: str
    path: str
    headers: dict[str, str]
    at: float = 0.0

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass
class FakeRepo:
    """A repository of the fake. ``token`` (if any) is required to see it at all."""

    owner: str
    name: str
    id: int
    private: bool
    token: str | None
    owner_id: int
    owner_type: str
    default_branch: str
    description: str | None
    created_at: datetime
    rev: int = 1
    releases: dict[int, _Release] = field(default_factory=dict, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def node_id(self) -> str:
        return _node_id("Repository", self.id)


@dataclass
class _Asset:
    id: int
    release_id: int
    name: str
    label: str | None
    data: bytes
    content_type: str
    state: str
    key: str  # object key on the CDN
    created_at: datetime
    updated_at: datetime
    download_count: int = 0
    rev: int = 1
    url: str | None = None  # an API "url" naming another server (a hostile or broken GitHub Enterprise)


@dataclass
class _Release:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    target_commitish: str
    created_at: datetime
    published_at: datetime | None
    updated_at: datetime
    untagged: str
    rev: int = 1
    assets: dict[int, _Asset] = field(default_factory=dict)


@dataclass
class _Fault:
    host: str
    substring: str
    status: int
    remaining: int
    message: str | None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _DownloadFault:
    kind: str  # "slow" | "garble" | "truncate" | "short"
    seconds: float = 0.0
    before_headers: bool = False
    remaining: int | None = None  # None: every download


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass
class _Download:
    """What the objects host is to send: computed under the lock, streamed outside it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    declared_length: int | None = None  # Content-Length when it differs from len(body) (truncation)
    slow_seconds: float = 0.0
    slow_before_headers: bool = False
    filename: str | None = None


class _S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ============================================================================ HTTP plumbing


class _Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections and threads so stop() leaves nothing behind."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeGitHub, kind: str, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.fake = fake
        self.kind = kind
        self._track_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__((LOOPBACK, 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"fake-github-{self.kind}-conn",
            daemon=True,
        )
        with self._track_lock:
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            try:
                self.finish_request(request, client_address)
            except Exception as exc:  # never let a handler thread raise (pytest turns that into an error)
                if not isinstance(exc, (ConnectionError, TimeoutError, OSError)):
                    self.fake._record_error(f"{self.kind}: {exc!r}")
            finally:
                self.shutdown_request(request)
        finally:
            with self._track_lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:  # pragma: no cover - defensive
        pass

    def close_everything(self, timeout: float = 5.0) -> None:
        self.shutdown()
        self.server_close()
        with self._track_lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end by themselves
    # One buffered write per response and no Nagle: keep-alive clients (PyGithub, requests) would
    # otherwise wait out delayed ACKs (~40 ms) on every request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server
    server_name = "github.com"

    def version_string(self) -> str:
        return self.server_name

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > 0:
            return self.rfile.read(int(length))
        return b""

    def _send(self, response: _Response) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 304 and "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD" and response.status != 304:
            self.wfile.write(response.body)
        self.wfile.flush()

    def _dispatch(self) -> None:
        raise NotImplementedError

    def _guarded(self) -> None:
        try:
            self._dispatch()
        except OSError:  # the client went away (or stop() cut the connection)
            self.close_connection = True
        except Exception as exc:
            self.server.fake._record_error(f"{self.server.kind} {self.command} {self.path}: {exc!r}")
            self.close_connection = True
            try:
                body = _json_bytes({"message": "Server Error", "documentation_url": DOCS, "status": "500"})
                self._send(_Response(500, [("Content-Type", "application/json; charset=utf-8")], body))
            except OSError:
                pass

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _guarded


class _ApiHandler(_Handler):
    server_name = "github.com"

    def _dispatch(self) -> None:
        fake = self.server.fake
        self._read_body()
        fake._record("api", self.command, self.path, dict(self.headers.items()))
        response = fake._api_response(self.command, self.path, self.headers, self.client_address[0])
        self._send(response)


class _ObjectsHandler(_Handler):
    server_name = "AmazonS3"

    def _dispatch(self) -> None:
        fake = self.server.fake
        self._read_body()
        fake._record("objects", self.command, self.path, dict(self.headers.items()))
        plan = fake._objects_response(self.command, self.path, self.headers)
        if plan.slow_seconds and plan.slow_before_headers:
            if not fake._sleep(plan.slow_seconds):
                self.close_connection = True
                return
        self.send_response(plan.status)
        for name, value in plan.headers:
            self.send_header(name, value)
        declared = len(plan.body) if plan.declared_length is None else plan.declared_length
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        if self.command == "HEAD" or not plan.body:
            self.wfile.flush()
            return
        body = memoryview(plan.body)
        if plan.slow_seconds and not plan.slow_before_headers:
            half = len(body) // 2
            self._write_chunks(body[:half])
            self.wfile.flush()
            if not fake._sleep(plan.slow_seconds):
                self.close_connection = True
                return
            body = body[half:]
        self._write_chunks(body)
        self.wfile.flush()
        if declared != len(plan.body):  # truncated on purpose: the client must see a short read
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if plan.filename is not None:
            fake._count_download(plan.filename)

    def _write_chunks(self, data: memoryview) -> None:
        for start in range(0, len(data), CHUNK):
            self.wfile.write(data[start : start + CHUNK])


# ============================================================================ the fake


class FakeGitHub:
    """GitHub's REST API and its asset CDN, in-process. See the module docstring.

    Thread-safe: all state sits behind one lock; the servers' threads take it too.
    """

    def __init__(
        self,
        *,
        objects_hostname: str = LOOPBACK,
        repository_id_links: bool = True,
        count_downloads: bool = False,
        url_ttl: float = 300,
    ) -> None:
        """
        :param objects_hostname: hostname used in the objects host's URLs (it always listens on
            127.0.0.1); ``"localhost"`` makes the asset redirect cross *hostnames*, not just ports.
        :param repository_id_links: ``Link`` headers point at ``/repositories/{id}/...`` as GitHub's do.
        :param count_downloads: bump an asset's ``download_count`` (and so the ETags showing it) on
            every complete download, as GitHub does eventually. Off by default so that ETags are stable.
        :param url_ttl: seconds the signed objects URLs stay valid (``X-Amz-Expires``).
        """
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._objects_hostname = objects_hostname
        self.repository_id_links = repository_id_links
        self.count_downloads = count_downloads
        self.url_ttl = url_ttl
        self._api_server: _Server | None = None
        self._objects_server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._signing_key = secrets.token_bytes(32)

        self._repos: dict[str, FakeRepo] = {}
        self._extra_tokens: set[str] = set()
        self._asset_index: dict[int, tuple[FakeRepo, _Release, _Asset]] = {}
        self._key_index: dict[str, int] = {}
        self._repo_ids = itertools.count(700_000_001)
        self._release_ids = itertools.count(150_000_001)
        self._asset_ids = itertools.count(180_000_001)
        self._owner_ids = itertools.count(90_000_001)
        self._owners: dict[str, tuple[int, str]] = {}
        self._request_ids = itertools.count(1)
        self._clock = datetime.now(timezone.utc).replace(microsecond=0)

        self._faults: list[_Fault] = []
        self._download_faults: dict[str, list[_DownloadFault]] = {}
        self._rate_limit = 5000
        self._rate_remaining = 5000
        self._rate_reset = int(time.time()) + 3600

        self._requests: list[RecordedRequest] = []
        self._auth_leaks: list[RecordedRequest] = []
        self._errors: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGitHub:
        if self._api_server is not None:
            return self
        self._stopping.clear()
        self._api_server = _Server(self, "api", _ApiHandler)
        self._objects_server = _Server(self, "objects", _ObjectsHandler)
        for server in (self._api_server, self._objects_server):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-github-{server.kind}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop both servers, cut open connections (slow downloads included) and join their threads."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        for server in (self._api_server, self._objects_server):
            if server is not None:
                server.close_everything()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        self._api_server = self._objects_server = None

    close = stop

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._api_server is not None

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT``: PyGithub's ``base_url``, Envelope's ENVELOPE_GITHUB_API_URL."""
        if self._api_server is None:
            raise RuntimeError("FakeGitHub is not started")
        return f"http://{LOOPBACK}:{self._api_server.server_address[1]}"

    @property
    def objects_url(self) -> str:
        """The asset CDN, like https://objects.githubusercontent.com."""
        if self._objects_server is None:
            raise RuntimeError("FakeGitHub is not started")
        return f"http://{self._objects_hostname}:{self._objects_server.server_address[1]}"

    @property
    def web_url(self) -> str:
        """Where html_url / browser_download_url point (served by the API server, like github.com)."""
        return self.api_url

    # ------------------------------------------------------------------ state: repos, releases, assets

    def _tick(self) -> datetime:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self._clock = max(now, self._clock)  # wall-clock UTC, never going backwards
        return self._clock

    def add_token(self, token: str) -> None:
        """Make ``token`` a valid credential (it sees public repos and repos added without a token)."""
        with self._lock:
            self._extra_tokens.add(token)

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        token: str | None = None,
        owner_type: str = "Organization",
        default_branch: str = "main",
        description: str | None = None,
    ) -> FakeRepo:
        """Add a repository. A private repo without ``token`` gets a generated one (``repo.token``)."""
        with self._changed:
            key = f"{owner}/{name}".lower()
            if key in self._repos:
                raise ValueError(f"repository {owner}/{name} exists already")
            if private and token is None:
                token = "ghp_" + secrets.token_hex(18)
            owner_key = owner.lower()
            if owner_key not in self._owners:
                self._owners[owner_key] = (next(self._owner_ids), owner_type)
            owner_id, owner_type = self._owners[owner_key]
            repo = FakeRepo(
                owner=owner,
                name=name,
                id=next(self._repo_ids),
                private=private,
                token=token,
                owner_id=owner_id,
                owner_type=owner_type,
                default_branch=default_branch,
                description=description,
                created_at=self._tick(),
            )
            self._repos[key] = repo
            self._changed.notify_all()
            return repo

    def repo(self, full_name: str) -> FakeRepo:
        with self._lock:
            try:
                return self._repos[full_name.lower()]
            except KeyError:
                raise KeyError(f"no repository {full_name!r} in the fake") from None

    def _release(self, full_name: str, release_id: int | Mapping[str, Any]) -> tuple[FakeRepo, _Release]:
        repo = self.repo(full_name)
        rid = int(release_id["id"]) if isinstance(release_id, Mapping) else int(release_id)
        try:
            return repo, repo.releases[rid]
        except KeyError:
            raise KeyError(f"no release {rid} in {full_name}") from None

    def add_release(
        self,
        full_name: str,
        tag: str,
        *,
        name: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        body: str | None = "",
        target_commitish: str | None = None,
    ) -> dict[str, Any]:
        """Create a release (newest so far) and return its JSON as GitHub would show it."""
        with self._changed:
            repo = self.repo(full_name)
            now = self._tick()
            release = _Release(
                id=next(self._release_ids),
                tag_name=tag,
                name=name,
                body=body,
                draft=draft,
                prerelease=prerelease,
                target_commitish=target_commitish or repo.default_branch,
                created_at=now,
                published_at=None if draft else now,
                updated_at=now,
                untagged=secrets.token_hex(10),
            )
            repo.releases[release.id] = release
            repo.rev += 1
            self._changed.notify_all()
            return self._release_json(repo, release)

    def set_release(self, full_name: str, release_id: int | Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """Edit a release: tag_name, name, body, draft, prerelease, target_commitish.

        Publishing a draft (``draft=False``) sets ``published_at``. Returns the new JSON.
        """
        allowed = {"tag_name", "name", "body", "draft", "prerelease", "target_commitish"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"set_release() cannot change {sorted(unknown)}")
        with self._changed:
            repo, release = self._release(full_name, release_id)
            was_draft = release.draft
            for key, value in changes.items():
                setattr(release, key, value)
            now = self._tick()
            if was_draft and not release.draft:
                release.published_at = now
            elif release.draft:
                release.published_at = None
            release.updated_at = now
            release.rev += 1
            repo.rev += 1
            self._changed.notify_all()
            return self._release_json(repo, release)

    def remove_release(self, full_name: str, release_id: int | Mapping[str, Any]) -> None:
        with self._changed:
            repo, release = self._release(full_name, release_id)
            for asset in release.assets.values():
                self._asset_index.pop(asset.id, None)
                self._key_index.pop(asset.key, None)
            del repo.releases[release.id]
            repo.rev += 1
            self._changed.notify_all()

    def add_asset(
        self,
        full_name: str,
        release_id: int | Mapping[str, Any],
        filename: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        label: str | None = None,
        state: str = "uploaded",
    ) -> dict[str, Any]:
        """Attach an asset to a release and return its JSON. ``state="open"`` is an upload in progress."""
        with self._changed:
            repo, release = self._release(full_name, release_id)
            if any(a.name == filename for a in release.assets.values()):
                raise ValueError(f"release {release.id} already has an asset named {filename!r}")
            now = self._tick()
            asset = _Asset(
                id=next(self._asset_ids),
                release_id=release.id,
                name=filename,
                label=label,
                data=bytes(data),
                content_type=content_type,
                state=state,
                key=str(uuid.uuid4()),
                created_at=now,
                updated_at=now,
            )
            release.assets[asset.id] = asset
            release.rev += 1
            release.updated_at = now
            repo.rev += 1
            self._asset_index[asset.id] = (repo, release, asset)
            self._key_index[asset.key] = asset.id
            self._changed.notify_all()
            return self._asset_json(asset)

    def remove_asset(self, full_name: str, asset_id: int | Mapping[str, Any]) -> None:
        with self._changed:
            aid = int(asset_id["id"]) if isinstance(asset_id, Mapping) else int(asset_id)
            repo = self.repo(full_name)
            entry = self._asset_index.get(aid)
            if entry is None or entry[0] is not repo:
                raise KeyError(f"no asset {aid} in {full_name}")
            _, release, asset = entry
            del release.assets[aid]
            del self._asset_index[aid]
            self._key_index.pop(asset.key, None)
            release.rev += 1
            release.updated_at = self._tick()
            repo.rev += 1
            self._changed.notify_all()

    def set_asset(self, full_name: str, asset_id: int | Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """Edit an asset: name, label, state, data, content_type, url (what the API
        answers as its download URL). Returns the new JSON."""
        allowed = {"name", "label", "state", "data", "content_type", "url"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"set_asset() cannot change {sorted(unknown)}")
        with self._changed:
            aid = int(asset_id["id"]) if isinstance(asset_id, Mapping) else int(asset_id)
            repo = self.repo(full_name)
            entry = self._asset_index.get(aid)
            if entry is None or entry[0] is not repo:
                raise KeyError(f"no asset {aid} in {full_name}")
            _, release, asset = entry
            for key, value in changes.items():
                setattr(asset, key, bytes(value) if key == "data" else value)
            asset.updated_at = self._tick()
            asset.rev += 1
            release.rev += 1
            repo.rev += 1
            self._changed.notify_all()
            return self._asset_json(asset)

    def release_json(self, full_name: str, release_id: int | Mapping[str, Any]) -> dict[str, Any]:
        """The release's current JSON (as an authorized caller would see it)."""
        with self._lock:
            repo, release = self._release(full_name, release_id)
            return self._release_json(repo, release)

    def asset_json(self, asset_id: int | Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            aid = int(asset_id["id"]) if isinstance(asset_id, Mapping) else int(asset_id)
            return self._asset_json(self._asset_index[aid][2])

    def repo_json(self, full_name: str) -> dict[str, Any]:
        with self._lock:
            return self._repo_json(self.repo(full_name))

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self, path_substring: str, status: int = 500, times: int = 1, *, host: str = "api", message: str | None = None
    ) -> None:
        """The next ``times`` requests to ``host`` whose path (with query) contains ``path_substring``
        answer ``status`` with a GitHub-shaped JSON error (an S3-shaped XML error on the objects host).

        Injected failures are answered first: before auth, rate limiting and conditional requests.
        """
        if host not in ("api", "objects"):
            raise ValueError("host is 'api' or 'objects'")
        with self._lock:
            self._faults.append(_Fault(host, path_substring, status, times, message))

    def secondary_rate_limit(
        self, path_substring: str, *, status: int = 403, retry_after: int | None = 60, times: int = 1
    ) -> None:
        """The next ``times`` API requests whose path contains ``path_substring`` hit a secondary rate
        limit, as GitHub answers one: ``status`` 403 or 429, GitHub's message, the (untouched) primary
        ``X-RateLimit-*`` headers and, unless ``retry_after`` is None, ``Retry-After`` in seconds.

        Answered like ``fail_next``: before auth, the primary limit and conditional requests.
        """
        if status not in (403, 429):
            raise ValueError("GitHub answers secondary rate limits with 403 or 429")
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        )
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        with self._lock:
            self._faults.append(_Fault("api", path_substring, status, times, message, headers))

    def set_rate_limit(self, remaining: int, reset_epoch: float | None = None, *, limit: int | None = None) -> None:
        """Set the (single, shared) core rate-limit bucket.

        Each API request uses one (not 304s, not /rate_limit, not 401s). A request arriving with 0
        remaining answers 403 with GitHub's message. Once ``reset_epoch`` passes, the bucket refills.
        """
        with self._lock:
            if limit is not None:
                self._rate_limit = limit
            self._rate_limit = max(self._rate_limit, remaining)
            self._rate_remaining = remaining
            self._rate_reset = int(reset_epoch if reset_epoch is not None else time.time() + 3600)

    def slow_download(
        self, filename: str, seconds: float, *, before_headers: bool = False, times: int | None = None
    ) -> None:
        """Downloads of asset ``filename`` from the objects host stall for ``seconds``.

        By default the status line, headers and the first half of the body are sent at once, then
        the stall, then the rest (so a worker can be killed mid-download). ``before_headers=True``
        stalls before anything is sent (to exercise read timeouts). ``stop()`` cuts the stall short.
        """
        with self._lock:
            self._download_faults.setdefault(filename, []).append(
                _DownloadFault("slow", seconds=seconds, before_headers=before_headers, remaining=times)
            )

    def corrupt_download(self, filename: str, mode: str = "garble", *, times: int | None = None) -> None:
        """Serve asset ``filename`` wrong.

        ``garble``: right length, flipped bytes (only a digest check notices); ``truncate``:
        ``Content-Length`` of the full size, then the connection closes after half the bytes (clients
        raise a short-read error); ``short``: a clean response of only the first half.
        """
        if mode not in ("garble", "truncate", "short"):
            raise ValueError("mode is 'garble', 'truncate' or 'short'")
        with self._lock:
            self._download_faults.setdefault(filename, []).append(_DownloadFault(mode, remaining=times))

    def clear_faults(self) -> None:
        """Forget pending fail_next, slow and corrupt downloads (the rate limit is left as is)."""
        with self._lock:
            self._faults.clear()
            self._download_faults.clear()

    # ------------------------------------------------------------------ recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request both hosts received, in order: (host, method, path, headers, at)."""
        with self._lock:
            return list(self._requests)

    @property
    def auth_leaks(self) -> list[RecordedRequest]:
        """Requests that reached the objects host with an ``Authorization`` header."""
        with self._lock:
            return list(self._auth_leaks)

    @property
    def errors(self) -> list[str]:
        """Unexpected exceptions inside the fake's handlers (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def assert_no_auth_leaks(self) -> None:
        leaks = self.auth_leaks
        if leaks:
            lines = [f"{r.method} {r.path} Authorization={r.header('Authorization')!r}" for r in leaks]
            raise AssertionError("credentials were sent to the asset host:\n" + "\n".join(lines))

    def count(self, path_substring: str = "", *, host: str | None = None, method: str | None = None) -> int:
        """How many recorded requests contain ``path_substring`` in their path (optionally on one host)."""
        return len(self.matching(path_substring, host=host, method=method))

    def matching(
        self, path_substring: str = "", *, host: str | None = None, method: str | None = None
    ) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self._requests
                if path_substring in r.path
                and (host is None or r.host == host)
                and (method is None or r.method == method.upper())
            ]

    def wait_for_request(
        self, path_substring: str, *, host: str | None = None, count: int = 1, timeout: float = 10.0
    ) -> RecordedRequest:
        """Block until at least ``count`` matching requests were received; return the last one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.matching(path_substring, host=host)
                if len(found) >= count:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {count} request(s) matching {path_substring!r} within {timeout}s")
                self._changed.wait(left)

    def clear_requests(self) -> None:
        """Forget recorded requests and auth leaks."""
        with self._lock:
            self._requests.clear()
            self._auth_leaks.clear()

    def _record(self, host: str, method: str, path: str, headers: dict[str, str]) -> RecordedRequest:
        request = RecordedRequest(host, method, path, headers, time.monotonic())
        with self._changed:
            self._requests.append(request)
            if host == "objects" and any(k.lower() == "authorization" for k in headers):
                self._auth_leaks.append(request)
            self._changed.notify_all()
        return request

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stop() is called first; True if the full time elapsed."""
        return not self._stopping.wait(seconds)

    def _count_download(self, filename: str) -> None:
        if not self.count_downloads:
            return
        with self._lock:
            for _repo, release, asset in self._asset_index.values():
                if asset.name == filename:
                    asset.download_count += 1
                    asset.rev += 1
                    release.rev += 1

    # ------------------------------------------------------------------ JSON shapes

    def _user_json(self, login: str, user_id: int, user_type: str = "User") -> dict[str, Any]:
        api = self.api_url
        kind = "Bot" if user_type == "Bot" else ("Organization" if user_type == "Organization" else "User")
        return {
            "login": login,
            "id": user_id,
            "node_id": _node_id(kind, user_id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": f"{api}/users/{quote(login)}",
            "html_url": f"{self.web_url}/{quote(login)}",
            "followers_url": f"{api}/users/{quote(login)}/followers",
            "following_url": f"{api}/users/{quote(login)}/following{{/other_user}}",
            "gists_url": f"{api}/users/{quote(login)}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{quote(login)}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{quote(login)}/subscriptions",
            "organizations_url": f"{api}/users/{quote(login)}/orgs",
            "repos_url": f"{api}/users/{quote(login)}/repos",
            "events_url": f"{api}/users/{quote(login)}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{quote(login)}/received_events",
            "type": user_type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def _bot_json(self) -> dict[str, Any]:
        return self._user_json(ACTIONS_BOT["login"], ACTIONS_BOT["id"], "Bot")

    def _owner_json(self, repo: FakeRepo) -> dict[str, Any]:
        return self._user_json(repo.owner, repo.owner_id, repo.owner_type)

    def _repo_json(self, repo: FakeRepo, *, with_permissions: bool = False) -> dict[str, Any]:
        api = self.api_url
        base = f"{api}/repos/{repo.full_name}"
        html = f"{self.web_url}/{repo.full_name}"
        host = urlsplit(self.web_url).netloc
        pushed = max([repo.created_at, *(r.updated_at for r in repo.releases.values())])
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": repo.node_id,
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self._owner_json(repo),
            "html_url": html,
            "description": repo.description,
            "fork": False,
            "url": base,
            "forks_url": f"{base}/forks",
            "keys_url": f"{base}/keys{{/key_id}}",
            "collaborators_url": f"{base}/collaborators{{/collaborator}}",
            "teams_url": f"{base}/teams",
            "hooks_url": f"{base}/hooks",
            "issue_events_url": f"{base}/issues/events{{/number}}",
            "events_url": f"{base}/events",
            "assignees_url": f"{base}/assignees{{/user}}",
            "branches_url": f"{base}/branches{{/branch}}",
            "tags_url": f"{base}/tags",
            "blobs_url": f"{base}/git/blobs{{/sha}}",
            "git_tags_url": f"{base}/git/tags{{/sha}}",
            "git_refs_url": f"{base}/git/refs{{/sha}}",
            "trees_url": f"{base}/git/trees{{/sha}}",
            "statuses_url": f"{base}/statuses/{{sha}}",
            "languages_url": f"{base}/languages",
            "stargazers_url": f"{base}/stargazers",
            "contributors_url": f"{base}/contributors",
            "subscribers_url": f"{base}/subscribers",
            "subscription_url": f"{base}/subscription",
            "commits_url": f"{base}/commits{{/sha}}",
            "git_commits_url": f"{base}/git/commits{{/sha}}",
            "comments_url": f"{base}/comments{{/number}}",
            "issue_comment_url": f"{base}/issues/comments{{/number}}",
            "contents_url": f"{base}/contents/{{+path}}",
            "compare_url": f"{base}/compare/{{base}}...{{head}}",
            "merges_url": f"{base}/merges",
            "archive_url": f"{base}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{base}/downloads",
            "issues_url": f"{base}/issues{{/number}}",
            "pulls_url": f"{base}/pulls{{/number}}",
            "milestones_url": f"{base}/milestones{{/number}}",
            "notifications_url": f"{base}/notifications{{?since,all,participating}}",
            "labels_url": f"{base}/labels{{/name}}",
            "releases_url": f"{base}/releases{{/id}}",
            "deployments_url": f"{base}/deployments",
            "created_at": _iso(repo.created_at),
            "updated_at": _iso(pushed),
            "pushed_at": _iso(pushed),
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": not repo.private,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.private else "public",
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": repo.default_branch,
        }
        if with_permissions:
            data["permissions"] = {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}
        if repo.owner_type == "Organization":
            data["organization"] = self._owner_json(repo)
        data["network_count"] = 0
        data["subscribers_count"] = 0
        return data

    def _asset_json(self, asset: _Asset) -> dict[str, Any]:
        repo, release, _ = self._asset_index[asset.id]
        return {
            "url": asset.url or f"{self.api_url}/repos/{repo.full_name}/releases/assets/{asset.id}",
            "id": asset.id,
            "node_id": _node_id("ReleaseAsset", asset.id),
            "name": asset.name,
            "label": asset.label,
            "uploader": self._bot_json(),
            "content_type": asset.content_type,
            "state": asset.state,
            "size": len(asset.data),
            "digest": "sha256:" + hashlib.sha256(asset.data).hexdigest(),
            "download_count": asset.download_count,
            "created_at": _iso(asset.created_at),
            "updated_at": _iso(asset.updated_at),
            "browser_download_url": (
                f"{self.web_url}/{repo.full_name}/releases/download/{quote(self._tag_path(release), safe='')}"
                f"/{quote(asset.name, safe='')}"
            ),
        }

    @staticmethod
    def _tag_path(release: _Release) -> str:
        return f"untagged-{release.untagged}" if release.draft else release.tag_name

    def _release_json(self, repo: FakeRepo, release: _Release) -> dict[str, Any]:
        api = self.api_url
        base = f"{api}/repos/{repo.full_name}"
        tag_q = quote(release.tag_name, safe="")
        return {
            "url": f"{base}/releases/{release.id}",
            "assets_url": f"{base}/releases/{release.id}/assets",
            "upload_url": f"{base}/releases/{release.id}/assets{{?name,label}}",
            "html_url": f"{self.web_url}/{repo.full_name}/releases/tag/{quote(self._tag_path(release), safe='')}",
            "id": release.id,
            "author": self._bot_json(),
            "node_id": _node_id("Release", release.id),
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "draft": release.draft,
            "immutable": False,
            "prerelease": release.prerelease,
            "created_at": _iso(release.created_at),
            "updated_at": _iso(release.updated_at),
            "published_at": _iso(release.published_at),
            "assets": [self._asset_json(a) for a in sorted(release.assets.values(), key=lambda a: a.id)],
            "tarball_url": f"{base}/tarball/{tag_q}",
            "zipball_url": f"{base}/zipball/{tag_q}",
            "body": release.body,
        }

    # ------------------------------------------------------------------ the API host

    def _request_id(self) -> str:
        n = next(self._request_ids)
        salt = f"{secrets.randbelow(0xFFFF):04X}:{secrets.randbelow(0xFFFFF):05X}"
        return f"{salt}:{n:06X}:{n * 7:07X}:{int(time.time()):08X}"

    def _rate_headers(self) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(self._rate_limit)),
            ("X-RateLimit-Remaining", str(self._rate_remaining)),
            ("X-RateLimit-Reset", str(self._rate_reset)),
            ("X-RateLimit-Used", str(self._rate_limit - self._rate_remaining)),
            ("X-RateLimit-Resource", "core"),
        ]

    def _known_tokens(self) -> set[str]:
        tokens = {r.token for r in self._repos.values() if r.token}
        return tokens | self._extra_tokens

    @staticmethod
    def _parse_authorization(value: str | None) -> tuple[str | None, bool]:
        """(token, malformed)."""
        if value is None:
            return None, False
        scheme, _, credential = value.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() in ("token", "bearer") and credential:
            return credential, False
        return None, True

    @staticmethod
    def _user_id_for(token: str) -> int:
        return 10_000_000 + int(hashlib.sha256(token.encode()).hexdigest()[:6], 16)

    def _api_response(self, method: str, target: str, headers: Any, client_ip: str) -> _Response:
        with self._lock:
            request_id = self._request_id()
            common = [("X-GitHub-Request-Id", request_id)]
            split = urlsplit(target)
            path = re.sub(r"/{2,}", "/", unquote(split.path)).rstrip("/") or "/"
            raw_path = split.path.rstrip("/") or "/"
            query = parse_qsl(split.query, keep_blank_values=True)

            fault = self._take_fault("api", target)
            if fault is not None:
                message = fault.message or _ERROR_MESSAGES.get(fault.status) or HTTPStatus(fault.status).phrase
                return self._error(fault.status, message, DOCS, common + self._rate_headers() + list(fault.headers))

            # The web host (github.com): browser_download_url and friends; no API headers.
            web = re.fullmatch(r"/([^/]+)/([^/]+)/releases/download/([^/]+)/([^/]+)", raw_path)
            if web is not None and not raw_path.startswith(("/repos/", "/repositories/", "/users/")):
                return self._web_download(*(unquote(g) for g in web.groups()), headers)

            token, malformed = self._parse_authorization(headers.get("Authorization"))
            if malformed or (token is not None and token not in self._known_tokens()):
                return self._error(401, "Bad credentials", DOCS, common + self._rate_headers())

            if path == "/rate_limit" and method in ("GET", "HEAD"):
                return self._json_response(200, self._rate_limit_json(), common + self._rate_headers(), token)

            # Primary rate limit: one request uses one, refunded below if the answer is a 304.
            now = time.time()
            if now >= self._rate_reset:
                self._rate_remaining = self._rate_limit
                self._rate_reset = int(now) + 3600
            if self._rate_remaining <= 0:
                if token is not None:
                    who = f"user ID {self._user_id_for(token)}"
                    message = f"API rate limit exceeded for {who}."
                else:
                    message = (
                        f"API rate limit exceeded for {client_ip}. (But here's the good news: Authenticated "
                        "requests get a higher rate limit. Check out the documentation for more details.)"
                    )
                message += f" If you reach out to GitHub Support for help, please include the request ID {request_id}."
                return self._error(403, message, RATE_LIMIT_DOCS, common + self._rate_headers())
            self._rate_remaining -= 1

            response = self._route(method, path, query, headers, token, common)
            if response.status == 304:
                self._rate_remaining += 1
            response.headers.extend(self._rate_headers())
            return response

    def _take_fault(self, host: str, target: str) -> _Fault | None:
        for fault in self._faults:
            if fault.host == host and fault.remaining > 0 and fault.substring in target:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _error(self, status: int, message: str, doc: str, headers: list[tuple[str, str]]) -> _Response:
        body = _json_bytes({"message": message, "documentation_url": doc, "status": str(status)})
        return _Response(status, [("Content-Type", "application/json; charset=utf-8"), *headers], body)

    def _json_response(
        self,
        status: int,
        payload: Any,
        headers: list[tuple[str, str]],
        token: str | None,
        *,
        revs: Iterable[int] = (),
        request_headers: Any = None,
    ) -> _Response:
        body = _json_bytes(payload)
        digest = hashlib.sha256(body)
        digest.update(("|" + ",".join(str(r) for r in revs)).encode())
        etag = f'W/"{digest.hexdigest()}"'
        out = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Cache-Control", "private, max-age=60, s-maxage=60" if token else "public, max-age=60, s-maxage=60"),
            ("Vary", _VARY),
            ("ETag", etag),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Api-Version-Selected", API_VERSION),
        ]
        if token:
            out += [("X-OAuth-Scopes", "repo"), ("X-Accepted-OAuth-Scopes", "repo")]
        out += headers
        if request_headers is not None and _etag_matches(request_headers.get("If-None-Match"), etag):
            keep = {"etag", "cache-control", "vary", "x-github-request-id", "link"}
            return _Response(304, [(k, v) for k, v in out if k.lower() in keep])
        return _Response(status, out, body)

    def _rate_limit_json(self) -> dict[str, Any]:
        core = {
            "limit": self._rate_limit,
            "used": self._rate_limit - self._rate_remaining,
            "remaining": self._rate_remaining,
            "reset": self._rate_reset,
        }
        reset = int(time.time()) + 60

        def bucket(limit: int) -> dict[str, int]:
            return {"limit": limit, "used": 0, "remaining": limit, "reset": reset}

        return {
            "resources": {
                "core": core,
                "search": bucket(30),
                "graphql": bucket(5000),
                "integration_manifest": bucket(5000),
                "source_import": bucket(100),
                "code_scanning_upload": bucket(1000),
                "actions_runner_registration": bucket(10000),
                "scim": bucket(15000),
                "dependency_snapshots": bucket(100),
                "code_search": bucket(10),
            },
            "rate": dict(core),
        }

    def _find_repo(self, path: str) -> tuple[FakeRepo | None, str, bool]:
        """(repo, rest of path, matched a repo route)."""
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if m:
            return self._repos.get(f"{m.group(1)}/{m.group(2)}".lower()), m.group(3) or "", True
        m = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        if m:
            rid = int(m.group(1))
            repo = next((r for r in self._repos.values() if r.id == rid), None)
            return repo, m.group(2) or "", True
        return None, "", False

    def _route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: Any, token: str | None, common: list
    ) -> _Response:
        if method not in ("GET", "HEAD"):
            return self._error(404, "Not Found", DOCS, common)

        if path == "/user":
            if token is None:
                return self._error(401, "Requires authentication", f"{DOCS}/users/users#get-the-authenticated-user",
                                   common)
            user = self._user_json("envelope-ci", self._user_id_for(token))
            return self._json_response(200, user, common, token, request_headers=headers)
        m = re.fullmatch(r"/users/([^/]+)", path)
        if m:
            login = m.group(1)
            if login.lower() == ACTIONS_BOT["login"]:
                return self._json_response(200, self._bot_json(), common, token, request_headers=headers)
            owner = self._owners.get(login.lower())
            if owner is None:
                return self._error(404, "Not Found", _DOC_URLS["user"], common)
            name = next(r.owner for r in self._repos.values() if r.owner.lower() == login.lower())
            user = self._user_json(name, owner[0], owner[1])
            return self._json_response(200, user, common, token, request_headers=headers)

        repo, rest, is_repo_route = self._find_repo(path)
        if not is_repo_route:
            return self._error(404, "Not Found", DOCS, common)
        if repo is None or (repo.token is not None and token != repo.token):
            doc = _DOC_URLS["repo"] if rest == "" else DOCS
            return self._error(404, "Not Found", doc, common)
        authorized = repo.token is not None and token == repo.token
        drafts_visible = repo.private and authorized

        if rest == "":
            payload = self._repo_json(repo, with_permissions=authorized)
            return self._json_response(200, payload, common, token, revs=[repo.rev], request_headers=headers)

        if rest == "/releases":
            releases = [
                r for r in sorted(repo.releases.values(), key=lambda r: r.id, reverse=True)
                if drafts_visible or not r.draft
            ]
            return self._page(repo, "/releases", releases, query, headers, token, common,
                              lambda r: self._release_json(repo, r), lambda r: r.rev)

        if rest == "/releases/latest":
            latest = next(
                (r for r in sorted(repo.releases.values(), key=lambda r: r.id, reverse=True)
                 if not r.draft and not r.prerelease),
                None,
            )
            if latest is None:
                return self._error(404, "Not Found", _DOC_URLS["latest"], common)
            return self._json_response(200, self._release_json(repo, latest), common, token,
                                       revs=[latest.rev], request_headers=headers)

        m = re.fullmatch(r"/releases/tags/(.+)", rest)
        if m:
            tag = m.group(1)
            release = next((r for r in repo.releases.values() if r.tag_name == tag and not r.draft), None)
            if release is None:
                return self._error(404, "Not Found", _DOC_URLS["tag"], common)
            return self._json_response(200, self._release_json(repo, release), common, token,
                                       revs=[release.rev], request_headers=headers)

        m = re.fullmatch(r"/releases/assets/(\d+)", rest)
        if m:
            entry = self._asset_index.get(int(m.group(1)))
            if entry is None or entry[0] is not repo or (entry[1].draft and not drafts_visible):
                return self._error(404, "Not Found", _DOC_URLS["asset"], common)
            _, release, asset = entry
            if "application/octet-stream" in (headers.get("Accept") or ""):
                location = self._signed_object_url(repo, asset)
                return _Response(302, [("Location", location), ("Content-Type", "text/html;charset=utf-8"),
                                       *common])
            return self._json_response(200, self._asset_json(asset), common, token,
                                       revs=[asset.rev], request_headers=headers)

        m = re.fullmatch(r"/releases/(\d+)(/assets)?", rest)
        if m:
            release = repo.releases.get(int(m.group(1)))
            if release is None or (release.draft and not drafts_visible):
                return self._error(404, "Not Found", _DOC_URLS["assets" if m.group(2) else "release"], common)
            if m.group(2):
                assets = sorted(release.assets.values(), key=lambda a: a.id)
                return self._page(repo, f"/releases/{release.id}/assets", assets, query, headers, token, common,
                                  self._asset_json, lambda a: a.rev)
            return self._json_response(200, self._release_json(repo, release), common, token,
                                       revs=[release.rev], request_headers=headers)

        return self._error(404, "Not Found", DOCS, common)

    def _page(
        self,
        repo: FakeRepo,
        sub_path: str,
        items: list[Any],
        query: list[tuple[str, str]],
        headers: Any,
        token: str | None,
        common: list[tuple[str, str]],
        render: Callable[[Any], dict[str, Any]],
        rev: Callable[[Any], int],
    ) -> _Response:
        params = dict(query)
        try:
            per_page = min(100, max(1, int(params.get("per_page", "30"))))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        base = (
            f"{self.api_url}/repositories/{repo.id}{sub_path}"
            if self.repository_id_links
            else f"{self.api_url}/repos/{repo.full_name}{sub_path}"
        )

        def link(number: int) -> str:
            pairs = [(k, v) for k, v in query if k != "page"] + [("page", str(number))]
            return f"{base}?{urlencode(pairs)}"

        links = []
        if len(items) > per_page or page > 1:
            if page > 1:
                links.append(f'<{link(min(page - 1, last))}>; rel="prev"')
            if page < last:
                links.append(f'<{link(page + 1)}>; rel="next"')
                links.append(f'<{link(last)}>; rel="last"')
            if page > 1:
                links.append(f'<{link(1)}>; rel="first"')
        extra = list(common)
        if links:
            extra.append(("Link", ", ".join(links)))
        payload = [render(item) for item in chunk]
        revs = [rev(item) for item in chunk]
        return self._json_response(200, payload, extra, token, revs=revs, request_headers=headers)

    def _web_download(self, owner: str, name: str, tag: str, filename: str, headers: Any) -> _Response:
        """github.com/{owner}/{repo}/releases/download/{tag}/{name}: public releases only."""
        repo = self._repos.get(f"{owner}/{name}".lower())
        not_found = _Response(404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found")
        if repo is None or repo.private or repo.token is not None:
            return not_found
        for release in repo.releases.values():
            if release.draft or release.tag_name != tag:
                continue
            for asset in release.assets.values():
                if asset.name == filename:
                    return _Response(302, [("Location", self._signed_object_url(repo, asset)),
                                           ("Content-Type", "text/html; charset=utf-8")])
        return not_found

    # ------------------------------------------------------------------ the objects host

    def _signature(self, key: str, amz_date: str, expires: str, repo_id: str) -> str:
        message = f"{key}\n{amz_date}\n{expires}\n{repo_id}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def _signed_object_url(self, repo: FakeRepo, asset: _Asset) -> str:
        amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = str(int(self.url_ttl))
        params = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"FAKEGITHUBOBJECTS/{amz_date[:8]}/us-east-1/s3/aws4_request"),
            ("X-Amz-Date", amz_date),
            ("X-Amz-Expires", expires),
            ("X-Amz-Signature", self._signature(asset.key, amz_date, expires, str(repo.id))),
            ("X-Amz-SignedHeaders", "host"),
            ("actor_id", "0"),
            ("key_id", "0"),
            ("repo_id", str(repo.id)),
            ("response-content-disposition", f"attachment; filename={asset.name}"),
            ("response-content-type", "application/octet-stream"),
        ]
        return f"{self.objects_url}/{OBJECTS_BUCKET}/{repo.id}/{asset.key}?{urlencode(params, quote_via=quote)}"

    def _objects_response(self, method: str, target: str, headers: Any) -> _Download:
        amz_id = secrets.token_hex(8).upper()
        try:
            with self._lock:
                return self._objects_plan(method, target, headers, amz_id)
        except _S3Error as err:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{err.code}</Code><Message>{err.message}</Message>"
                f"<RequestId>{amz_id}</RequestId><HostId>{secrets.token_urlsafe(24)}</HostId></Error>"
            ).encode()
            return _Download(err.status, [("Content-Type", "application/xml"), ("x-amz-request-id", amz_id)], body)

    def _objects_plan(self, method: str, target: str, headers: Any, amz_id: str) -> _Download:
        if headers.get("Authorization") is not None:
            raise _S3Error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
                "string parameter or the Authorization header should be specified",
            )
        fault = self._take_fault("objects", target)
        if fault is not None:
            code = {403: "AccessDenied", 404: "NoSuchKey", 503: "SlowDown"}.get(fault.status, "InternalError")
            raise _S3Error(fault.status, code, fault.message or HTTPStatus(fault.status).phrase)
        if method not in ("GET", "HEAD"):
            raise _S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        split = urlsplit(target)
        m = re.fullmatch(rf"/{OBJECTS_BUCKET}/(\d+)/([0-9a-f-]+)", split.path)
        if m is None:
            raise _S3Error(404, "NoSuchKey", "The specified key does not exist.")
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        repo_id, key = m.group(1), m.group(2)
        amz_date, expires = params.get("X-Amz-Date", ""), params.get("X-Amz-Expires", "")
        expected = self._signature(key, amz_date, expires, repo_id)
        if params.get("repo_id") != repo_id or not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
            raise _S3Error(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided.")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            if datetime.now(timezone.utc) > signed_at + timedelta(seconds=int(expires)):
                raise _S3Error(403, "AccessDenied", "Request has expired")
        except ValueError:
            raise _S3Error(403, "AccessDenied", "Invalid date") from None
        asset_id = self._key_index.get(key)
        if asset_id is None:
            raise _S3Error(404, "NoSuchKey", "The specified key does not exist.")
        _, _, asset = self._asset_index[asset_id]
        data = asset.data

        plan = _Download(200, [], data, filename=asset.name)
        for fault_ in self._take_download_faults(asset.name):
            if fault_.kind == "slow":
                plan.slow_seconds += fault_.seconds
                plan.slow_before_headers = plan.slow_before_headers or fault_.before_headers
            elif fault_.kind == "garble":
                plan.body = _garble(plan.body)
            elif fault_.kind == "short":
                plan.body = plan.body[: len(plan.body) // 2]
            elif fault_.kind == "truncate":
                plan.declared_length = len(plan.body)
                plan.body = plan.body[: len(plan.body) // 2]

        last_modified = formatdate(asset.updated_at.timestamp(), usegmt=True)
        plan.headers = [
            ("x-amz-request-id", amz_id),
            ("Last-Modified", last_modified),
            ("ETag", '"' + hashlib.md5(data).hexdigest() + '"'),
            ("Content-Type", params.get("response-content-type") or "application/octet-stream"),
            ("Content-Disposition", params.get("response-content-disposition") or f"attachment; filename={asset.name}"),
            ("Accept-Ranges", "bytes"),
        ]
        range_header = headers.get("Range")
        if range_header and plan.declared_length is None:
            parsed = _parse_range(range_header, len(plan.body))
            if parsed is None:
                raise _S3Error(416, "InvalidRange", "The requested range is not satisfiable")
            start, end = parsed
            plan.headers.append(("Content-Range", f"bytes {start}-{end}/{len(plan.body)}"))
            plan.body = plan.body[start : end + 1]
            plan.status = 206
        return plan

    def _take_download_faults(self, filename: str) -> list[_DownloadFault]:
        taken = []
        for fault in list(self._download_faults.get(filename, [])):
            taken.append(fault)
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._download_faults[filename].remove(fault)
        return taken


def _garble(data: bytes) -> bytes:
    if not data:
        return b"\x00"
    garbled = bytearray(data)
    for index in range(0, len(garbled), 7):
        garbled[index] ^= 0xFF
    return bytes(garbled)


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", value)
    if m is None or (not m.group(1) and not m.group(2)) or size == 0:
        return None
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:  # suffix range: the last N bytes
        start = max(0, size - int(m.group(2)))
        end = size - 1
    end = min(end, size - 1)
    if start > end:
        return None
    return start, end


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True

    def opaque(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return any(opaque(candidate) == opaque(etag) for candidate in if_none_match.split(","))


# ============================================================================ webhooks


def release_event_payload(
    fake: FakeGitHub,
    full_name: str,
    release: int | Mapping[str, Any],
    action: str = "published",
    *,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """GitHub's ``release`` webhook payload for the release's current state.

    ``action`` is one of published, unpublished, created, edited, deleted, prereleased, released.
    """
    with fake._lock:
        repo = fake.repo(full_name)
        payload: dict[str, Any] = {"action": action}
        if action == "edited":
            payload["changes"] = dict(changes or {})
        payload["release"] = fake.release_json(full_name, release)
        payload["repository"] = fake._repo_json(repo)
        if repo.owner_type == "Organization":
            owner = fake._owner_json(repo)
            payload["organization"] = {
                "login": owner["login"],
                "id": owner["id"],
                "node_id": owner["node_id"],
                "url": f"{fake.api_url}/orgs/{quote(repo.owner)}",
                "repos_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/repos",
                "events_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/events",
                "hooks_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/hooks",
                "issues_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/issues",
                "members_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/members{{/member}}",
                "public_members_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/public_members{{/member}}",
                "avatar_url": owner["avatar_url"],
                "description": None,
            }
        payload["sender"] = fake._bot_json()
        return payload


def ping_payload(
    fake: FakeGitHub,
    full_name: str,
    *,
    hook_id: int = 470_000_001,
    events: Iterable[str] = ("release",),
    config_url: str = "https://envelope.example/hooks/github",
) -> dict[str, Any]:
    """GitHub's ``ping`` webhook payload, sent when a repository webhook is created."""
    with fake._lock:
        repo = fake.repo(full_name)
        base = f"{fake.api_url}/repos/{repo.full_name}/hooks/{hook_id}"
        created = _iso(datetime.now(timezone.utc))
        return {
            "zen": "Keep it logically awesome.",
            "hook_id": hook_id,
            "hook": {
                "type": "Repository",
                "id": hook_id,
                "name": "web",
                "active": True,
                "events": list(events),
                "config": {"content_type": "json", "insecure_ssl": "0", "secret": "********", "url": config_url},
                "updated_at": created,
                "created_at": created,
                "url": base,
                "test_url": f"{base}/test",
                "ping_url": f"{base}/pings",
                "deliveries_url": f"{base}/deliveries",
                "last_response": {"code": None, "status": "unused", "message": None},
            },
            "repository": fake._repo_json(repo),
            "sender": fake._owner_json(repo) if repo.owner_type == "User" else fake._bot_json(),
        }


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes GitHub would POST for ``payload`` (compact JSON); sign exactly these bytes."""
    return _json_bytes(payload)


def sign_payload(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(
    event: str,
    delivery_id: str,
    secret: str | None,
    body: bytes,
    *,
    hook_id: int = 470_000_001,
    target_id: int | None = None,
) -> dict[str, str]:
    """Headers of a GitHub webhook delivery. No signature headers when ``secret`` is None (as GitHub)."""
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc123",
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
    }
    if target_id is not None:
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(target_id)
    if secret is not None:
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = sign_payload(secret, body)
    return headers
