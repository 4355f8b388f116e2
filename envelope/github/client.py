"""GitHub API access for release sync: releases and assets through PyGithub,
conditional polls and asset downloads through plain HTTP. No database here.

Asset downloads follow GitHub's redirect by hand: the Authorization header
goes to the configured API origin only (scheme, host and port), never to the
storage host a redirect names, nor to an asset URL that names another origin.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, BinaryIO, Callable, Mapping
from urllib.parse import urljoin, urlsplit

from envelope.http_errors import describe
from envelope.errors import EnvelopeError, FileTooLarge, NotFound

if TYPE_CHECKING:
    import requests
    from urllib3.util.retry import Retry

TIMEOUT = 30  # seconds per request
MAX_REDIRECTS = 5
CHUNK = 1024 * 1024  # bytes per read while downloading
SECONDARY_WAIT = 60  # seconds: GitHub's advice when a rate-limit answer names no time



@functools.cache
def retry() -> Retry:
    """GitHub's retry policy. Made on first use, like the HTTP session:
    requests, urllib3 and PyGithub (about 22 MB) load only in a process that
    talks to GitHub, never in a worker or web process of an instance without
    a GitHub connection."""
    from urllib3.util.retry import Retry

    return Retry(
        total=3,
        backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        # A rate limit's Retry-After can be minutes: the run is re-queued to wait
        # (envelope.github.sync), rather than a worker sleeping inside a request.
        respect_retry_after_header=False,
    )


class GitHubUnavailable(EnvelopeError):
    """A transient failure (5xx, network): the same call may work later."""

    status = 502


class RateLimited(GitHubUnavailable):
    """GitHub asked us to wait until `reset_at` (None: it did not say)."""

    def __init__(self, reset_at: datetime | None, *, secondary: bool = False) -> None:
        when = f" until {reset_at:%H:%M:%S} UTC" if reset_at else ""
        what = "secondary rate limit reached" if secondary else "rate limit exhausted"
        super().__init__(f"GitHub API {what}{when}.")
        self.reset_at = reset_at


class DigestMismatch(EnvelopeError):
    """The downloaded bytes are not the ones GitHub vouches for (the asset's
    `digest`): a tampered or broken download, never published."""

    status = 422


@dataclass(frozen=True)
class Asset:
    id: int
    name: str
    size: int
    updated_at: str
    api_url: str
    # GitHub's "sha256:<hex>" of the bytes (since 2025); None from older
    # GitHub Enterprise Server, whose downloads stay unverified.
    digest: str | None = None


@dataclass(frozen=True)
class Release:
    id: int
    tag: str
    draft: bool
    prerelease: bool
    assets: tuple[Asset, ...]
    immutable: bool | None = None  # GitHub's immutable releases; None where the API does not say

    @property
    def fingerprint(self) -> str:
        """Changes whenever an asset is added, removed or replaced."""
        text = "\n".join(sorted(f"{a.name}\t{a.size}\t{a.updated_at}" for a in self.assets))
        return hashlib.sha256(text.encode()).hexdigest()


def _reset_time(headers: dict | None) -> datetime | None:
    value = (headers or {}).get("X-RateLimit-Reset") or (headers or {}).get("x-ratelimit-reset")
    return datetime.fromtimestamp(int(value), timezone.utc) if value else None


def rate_limit(status: int, headers: Mapping[str, str] | None, message: str | None = None) -> RateLimited | None:
    """The RateLimited error an answer amounts to, with the time to retry at;
    None when it is not a rate limit.

    GitHub's rules: primary and secondary limits answer 403 or 429. A
    Retry-After header gives the seconds to wait; otherwise
    X-RateLimit-Remaining: 0 means wait for X-RateLimit-Reset; otherwise wait
    at least a minute. A 403 with none of these nor a rate-limit message is a
    permission error."""
    if status not in (403, 429):
        return None
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    now = datetime.now(timezone.utc)
    retry_at = _retry_after(headers.get("retry-after"), now)
    exhausted = headers.get("x-ratelimit-remaining") == "0"
    from github.Requester import Requester  # PyGithub: imported on use, see GitHubClient

    said_so = Requester.isRateLimitError(message or "")
    if status == 403 and not (retry_at or exhausted or said_so):
        return None
    if retry_at is not None:
        return RateLimited(retry_at, secondary=not exhausted)
    if exhausted and _reset_time(headers):
        return RateLimited(_reset_time(headers))
    return RateLimited(now + timedelta(seconds=SECONDARY_WAIT), secondary=True)


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as a moment: delay-seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return now + timedelta(seconds=max(0, int(value)))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _message(data: object) -> str:
    """The "message" of a GitHub error body, "" when there is none."""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def _response_message(response: requests.Response) -> str:
    try:
        return _message(response.json())
    except ValueError:
        return ""


class GitHubClient:
    """PyGithub is imported when a client is made (about 18 MB): a worker
    whose instance has no GitHub connection never loads it."""

    def __init__(self, api_url: str, token: str | None) -> None:
        from github import Auth, Github

        self.api_url = api_url.rstrip("/")
        self._api_origin = _origin(self.api_url)
        self._token = token
        self._github = Github(
            base_url=self.api_url,
            auth=Auth.Token(token) if token else None,
            retry=retry(),
            timeout=TIMEOUT,
            per_page=100,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,  # get_repo() makes no request: the release calls below say what is needed
        )
        import requests

        self._http = requests.Session()
        self._http.headers["User-Agent"] = "envelope-index"
        self._http.headers["X-GitHub-Api-Version"] = "2022-11-28"

    def close(self) -> None:
        self._github.close()
        self._http.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _call(self, what: str, fn: Callable):
        from github import GithubException, RateLimitExceededException
        from requests import RequestException

        try:
            return fn()
        except GithubException as exc:
            limited = rate_limit(exc.status, exc.headers, _message(exc.data))
            if limited is None and isinstance(exc, RateLimitExceededException):
                limited = RateLimited(_reset_time(exc.headers))
            if limited is not None:
                raise limited from None
            if exc.status == 404:
                raise NotFound(f"GitHub has no {what}, or the token cannot see it.") from None
            if exc.status in (401, 403):
                raise EnvelopeError(f"GitHub refused access to {what} ({exc.status}); check the token.") from None
            raise GitHubUnavailable(f"GitHub answered {exc.status} for {what}.") from None
        except RequestException as exc:
            raise GitHubUnavailable(f"Cannot reach GitHub for {what}: {describe(exc)}.") from None

    def release(self, full_name: str, release_id: int) -> Release:
        def fetch() -> Release:
            repo = self._github.get_repo(full_name)
            item = repo.get_release(release_id)
            item.raw_data  # a lazy repository gives a lazy release: fetch it now, whole
            return _release(item)

        return self._call(f"release {release_id} of {full_name}", fetch)

    def releases(self, full_name: str, *, limit: int | None = None) -> list[Release]:
        """Newest first; drafts included (callers decide), at most `limit`."""

        def fetch() -> list[Release]:
            repo = self._github.get_repo(full_name)
            found = []
            for item in repo.get_releases():
                found.append(_release(item))
                if limit is not None and len(found) >= limit:
                    break
            return found

        return self._call(f"releases of {full_name}", fetch)

    def releases_changed(self, full_name: str, etag: str | None) -> tuple[bool, str | None]:
        """One conditional request for the newest releases: (changed?, new ETag).

        GitHub does not count a 304 against the rate limit, so the hourly
        poll of an idle repository is free."""
        headers = {"Accept": "application/vnd.github+json", **self._auth_headers()}
        if etag:
            headers["If-None-Match"] = etag
        url = f"{self.api_url}/repos/{full_name}/releases?per_page=100"
        from requests import RequestException  # loaded by __init__

        try:
            response = self._http.get(url, headers=headers, timeout=TIMEOUT)
        except RequestException as exc:
            raise GitHubUnavailable(f"Cannot reach GitHub for releases of {full_name}: {describe(exc)}.") from None
        with response:
            if response.status_code == 304:
                return False, etag
            if response.status_code in (403, 429):
                limited = rate_limit(response.status_code, response.headers, _response_message(response))
                if limited is not None:
                    raise limited
            if response.status_code == 404:
                raise NotFound(f"GitHub has no repository {full_name}, or the token cannot see it.")
            if response.status_code >= 400:
                raise GitHubUnavailable(f"GitHub answered {response.status_code} for releases of {full_name}.")
            return True, response.headers.get("ETag")

    def download(
        self,
        asset: Asset,
        out: BinaryIO,
        *,
        max_size: int,
        progress: Callable[[int], None] | None = None,
    ) -> bool:
        """Stream the asset's bytes into `out`; True when they matched GitHub's
        digest of the asset, False when GitHub gave none (older Enterprise
        Server). Raises DigestMismatch when they do not match.

        Redirects are followed here, not by the HTTP library, so that the
        token is sent to the configured API origin only: the asset's URL comes
        from the API's answer (a hostile or misconfigured GitHub Enterprise,
        a proxy) and may name any server."""
        from requests import RequestException  # loaded by __init__

        url = asset.api_url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": "application/octet-stream"}
            if _origin(url) == self._api_origin:
                headers.update(self._auth_headers())
            try:
                response = self._http.get(url, headers=headers, stream=True, allow_redirects=False, timeout=TIMEOUT)
            except RequestException as exc:
                raise GitHubUnavailable(f"Cannot download {asset.name}: {describe(exc)}.") from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code in (403, 429):
                    limited = rate_limit(response.status_code, response.headers, _response_message(response))
                    if limited is not None:
                        raise limited
                if response.status_code >= 500 or response.status_code == 429:
                    raise GitHubUnavailable(f"Downloading {asset.name} failed with {response.status_code}.")
                if response.status_code >= 400:
                    raise EnvelopeError(f"Downloading {asset.name} failed with {response.status_code}.")
                return _copy(response, out, asset, max_size, progress)
        raise GitHubUnavailable(f"Too many redirects downloading {asset.name}.")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in: https://h and
    https://h:443 are one origin, http://h and https://h are two (a token
    must not go out unencrypted because a link said http)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number: matches nothing
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _copy(response: requests.Response, out: BinaryIO, asset: Asset, max_size: int, progress) -> bool:
    from requests import RequestException

    size = 0
    sha256 = hashlib.sha256()
    try:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            sha256.update(chunk)
            if size > max_size:
                raise FileTooLarge(f"Asset {asset.name} is larger than the index's limit of {max_size} bytes.")
            out.write(chunk)
            if progress:
                progress(len(chunk))
    except RequestException as exc:
        raise GitHubUnavailable(f"Download of {asset.name} failed: {describe(exc)}.") from None
    if size != asset.size:
        raise GitHubUnavailable(f"Download of {asset.name} is {size} bytes, GitHub announced {asset.size}.")
    return digest_matches(asset, sha256.hexdigest())


def digest_matches(asset: Asset, sha256_hex: str) -> bool:
    """True when GitHub's digest names these bytes, False when it gave none;
    DigestMismatch when it names other bytes (or a form we cannot check)."""
    if not asset.digest:
        return False
    algorithm, _, expected = asset.digest.partition(":")
    if algorithm.lower() != "sha256" or not hmac.compare_digest(expected.lower(), sha256_hex):
        raise DigestMismatch(
            f"{asset.name}: the downloaded bytes have sha256:{sha256_hex}, "
            f"GitHub's digest of the asset is {asset.digest}; not published."
        )
    return True


def _answered(item) -> dict:
    """The JSON GitHub answered for a listed object, as it came: PyGithub's
    `raw_data` and its attributes fetch the object again when a field is
    missing, and older GitHub Enterprise Servers have no `digest` nor
    `immutable`: one request per asset for nothing."""
    from github.GithubObject import GithubObject

    return GithubObject.raw_data.fget(item)


def _release(item) -> Release:
    assets = tuple(
        Asset(a.id, a.name, a.size, a.updated_at.isoformat() if a.updated_at else "", a.url,
              _answered(a).get("digest") or None)
        for a in item.get_assets()
    )
    immutable = _answered(item).get("immutable")
    return Release(item.id, item.tag_name, item.draft, item.prerelease, assets,
                   immutable if isinstance(immutable, bool) else None)
