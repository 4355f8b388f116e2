"""HTTP access to an upstream simple index: project pages and file downloads.

No database here; envelope.upstream.pages and .files decide what to fetch and keep it.
Every connection goes through envelope.upstream.network: only to permitted
addresses, within a deadline.
Credentials for the upstream go only to the upstream's own origin: a file
hosted elsewhere (PyPI's files.pythonhosted.org, a CDN, S3) is fetched
without them, and requests drops them on a redirect to another host.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

from envelope.errors import FileTooLarge, InvalidInput, UpstreamError
from envelope.upstream.network import AddressPolicy

if TYPE_CHECKING:
    import requests
    from pypi_simple import ProjectPage

    from envelope.upstream.transport import UpstreamFetch

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 64 * 1024**2  # bytes; PyPI's largest project pages are a few MB
CHUNK = 1024 * 1024  # bytes per read while downloading
FILE_DEADLINE = 10 * 60  # seconds for one file download, however slowly it trickles
REFUSED = 403  # FetchedPage.status when the upstream answers 401/403: these credentials may not read it
UNREACHABLE = "The upstream index could not be reached; try again later."
USER_AGENT = f"envelope/{metadata.version('envelope-index')} (upstream proxy)"


@dataclass(frozen=True)
class UpstreamIndex:
    """Where an organization's upstream lives, and how to sign in to it."""

    url: str  # the simple index root, ending in "/", without credentials
    credentials: tuple[str, str] | None = None

    def project_url(self, normalized_name: str) -> str:
        return f"{self.url}{normalized_name}/"

    def auth_for(self, url: str) -> tuple[str, str] | None:
        """The credentials, if `url` is on the upstream's own origin."""
        return self.credentials if _origin(url) == _origin(self.url) else None


def without_credentials(url: str) -> str:
    """The URL as typed, less any user:password@, to show or log it."""
    parts = urlsplit(url.strip())
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def split_index_url(url: str) -> UpstreamIndex:
    """'https://user:pw@host/simple' -> UpstreamIndex('https://host/simple/', ('user', 'pw'))."""
    parts = urlsplit(url.strip())
    shown = without_credentials(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"Invalid upstream index URL {shown!r}: use http(s)://host/path/.")
    if parts.query or parts.fragment:
        raise InvalidInput(f"Invalid upstream index URL {shown!r}: no query or fragment, please.")
    netloc = parts.netloc.rpartition("@")[2]  # host[:port] as written, without userinfo
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    credentials = None
    if parts.username is not None:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
    return UpstreamIndex(urlunsplit((parts.scheme, netloc, path, "", "")), credentials)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, port


@dataclass(frozen=True)
class FetchedPage:
    status: int  # 200 (page below), 304 (unchanged), 404 (no such project upstream) or REFUSED
    page: ProjectPage | None = None
    etag: str | None = None
    last_modified: str | None = None


def fetch_project_page(index: UpstreamIndex, normalized_name: str, *, policy: AddressPolicy, deadline: float,
                       etag: str | None = None, last_modified: str | None = None) -> FetchedPage:
    """GET the project page, conditionally when validators are known, within
    `deadline` seconds in all, connecting only where `policy` permits.

    Raises UpstreamError when the upstream cannot be reached, answers an
    error, or sends something that is not a simple-index page: always the
    same sentence (UNREACHABLE), so nobody learns from it whether a port is
    closed, an address refused or an HTTP server answered 500. The log says
    which."""
    # Here, not with the module: pypi_simple brings pydantic (~16 MB per
    # process), requests and urllib3 about 4 MB, and every web process
    # imports this module whether or not an organization proxies an upstream.
    import requests
    from pypi_simple import ACCEPT_JSON_PREFERRED

    from envelope.upstream.transport import UpstreamFetch

    url = index.project_url(normalized_name)
    headers = {"Accept": ACCEPT_JSON_PREFERRED}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with UpstreamFetch(policy, deadline=deadline, user_agent=USER_AGENT) as fetch, \
                fetch.session.get(url, headers=headers, auth=index.auth_for(url), timeout=fetch.timeout,
                                  stream=True) as response:
            status = response.status_code
            if status == 304:
                return FetchedPage(304, etag=etag, last_modified=last_modified)
            if status in (404, 410):
                return FetchedPage(404)
            if status in (401, 403):
                log.warning("The upstream index %s refused %s (HTTP %d): its credentials are missing, "
                            "wrong or revoked.", index.url, normalized_name, status)
                return FetchedPage(REFUSED)
            if status != 200:
                raise _Failed(f"HTTP {status}")
            body = _read_bounded(response, MAX_PAGE_SIZE, fetch)
            page = _parse_page(response, body, normalized_name)
            return FetchedPage(200, page, response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except (requests.RequestException, OSError, _Failed) as exc:
        log.warning("Fetching the upstream page %s failed: %s", url, _describe(exc))
        raise UpstreamError(UNREACHABLE) from None


class _Failed(Exception):
    """Why an upstream fetch failed, for the log."""


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, _Failed) else f"{type(exc).__name__}: {exc}"


def _read_bounded(response: requests.Response, limit: int, fetch: UpstreamFetch) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > limit:
            raise _Failed(f"the page is larger than {limit} bytes")
        chunks.append(chunk)
    fetch.check()
    return b"".join(chunks)


def _parse_page(response: requests.Response, body: bytes, normalized_name: str) -> ProjectPage:
    import requests
    from pypi_simple import ProjectPage
    from pypi_simple.errors import UnparsableFilenameError, UnsupportedContentTypeError, UnsupportedRepoVersionError

    content_type = response.headers.get("Content-Type", "text/html")
    kind = content_type.split(";")[0].strip().lower()
    charset = requests.utils.get_encoding_from_headers(response.headers)
    try:
        if kind == "application/vnd.pypi.simple.v1+json":
            return ProjectPage.from_json_data(json.loads(body), response.url)
        if kind in ("text/html", "application/vnd.pypi.simple.v1+html"):
            return ProjectPage.from_html(normalized_name, body, response.url, from_encoding=charset)
        raise UnsupportedContentTypeError(response.url, content_type)
    except (ValueError, UnsupportedContentTypeError, UnsupportedRepoVersionError, UnparsableFilenameError) as exc:
        raise _Failed(f"not a simple-index page we can read ({exc})") from None


def download(index: UpstreamIndex, url: str, out: BinaryIO, *, policy: AddressPolicy,
             max_size: int) -> tuple[str, int]:
    """Stream `url` into `out`, hashing as it goes: (sha256 hex, size).

    Never holds the file in memory; connects only where `policy` permits and
    gives up after FILE_DEADLINE. Raises FileTooLarge beyond `max_size`,
    UpstreamError (UNREACHABLE, details logged) when the upstream fails."""
    import requests  # on use, as in fetch_project_page

    from envelope.upstream.transport import UpstreamFetch

    digest, size = hashlib.sha256(), 0
    try:
        with UpstreamFetch(policy, deadline=FILE_DEADLINE, user_agent=USER_AGENT) as fetch, \
                fetch.session.get(url, auth=index.auth_for(url), timeout=fetch.timeout, stream=True) as response:
            if response.status_code != 200:
                raise _Failed(f"HTTP {response.status_code}")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_size:
                raise FileTooLarge(f"File too large. Limit for this index is {max_size} bytes.")
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > max_size:
                    raise FileTooLarge(f"File too large. Limit for this index is {max_size} bytes.")
                digest.update(chunk)
                out.write(chunk)
            fetch.check()
    except (requests.RequestException, OSError, ValueError, _Failed) as exc:
        log.warning("Downloading %s from the upstream index failed: %s", url, _describe(exc))
        raise UpstreamError(UNREACHABLE) from None
    return digest.hexdigest(), size
