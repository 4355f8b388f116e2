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
  GitHub Apps too: the manifest flow, JWT and installation-token auth, the App's
  webhooks (tests/fake_github/apps.py).
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

import itertools
import secrets
import threading
import time
from datetime import datetime, timezone

from tests.fake_github.api_host import ApiHostMixin
from tests.fake_github.apps import AppsMixin
from tests.fake_github.objects_host import ObjectsHostMixin
from tests.fake_github.payloads import ping_payload, release_event_payload, sign_payload, webhook_body, webhook_headers
from tests.fake_github.recording import RecordingMixin
from tests.fake_github.records import LOOPBACK, Asset, DownloadFault, FakeRepo, Fault, RecordedRequest, Release
from tests.fake_github.servers import ApiHandler, ObjectsHandler, Server
from tests.fake_github.state import StateMixin


class FakeGitHub(StateMixin, RecordingMixin, ApiHostMixin, AppsMixin, ObjectsHostMixin):
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
        self._api_server: Server | None = None
        self._objects_server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._signing_key = secrets.token_bytes(32)

        self._repos: dict[str, FakeRepo] = {}
        self._extra_tokens: set[str] = set()
        self._asset_index: dict[int, tuple[FakeRepo, Release, Asset]] = {}
        self._key_index: dict[str, int] = {}
        self._repo_ids = itertools.count(700_000_001)
        self._release_ids = itertools.count(150_000_001)
        self._asset_ids = itertools.count(180_000_001)
        self._owner_ids = itertools.count(90_000_001)
        self._owners: dict[str, tuple[int, str]] = {}
        self._request_ids = itertools.count(1)
        self._clock = datetime.now(timezone.utc).replace(microsecond=0)

        self._faults: list[Fault] = []
        self._download_faults: dict[str, list[DownloadFault]] = {}
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
        self._api_server = Server(self, "api", ApiHandler)
        self._objects_server = Server(self, "objects", ObjectsHandler)
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


__all__ = ["FakeGitHub", "ping_payload", "release_event_payload", "sign_payload", "webhook_body", "webhook_headers"]
