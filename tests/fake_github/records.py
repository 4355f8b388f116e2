"""Constants, helpers and the records the fake keeps: repos, releases, assets, faults, responses."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

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

DOC_URLS = {
    "repo": f"{DOCS}/repos/repos#get-a-repository",
    "releases": f"{DOCS}/releases/releases#list-releases",
    "release": f"{DOCS}/releases/releases#get-a-release",
    "tag": f"{DOCS}/releases/releases#get-a-release-by-tag-name",
    "latest": f"{DOCS}/releases/releases#get-the-latest-release",
    "assets": f"{DOCS}/releases/assets#list-release-assets",
    "asset": f"{DOCS}/releases/assets#get-a-release-asset",
    "user": f"{DOCS}/users/users#get-a-user",
}

ERROR_MESSAGES = {
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

VARY = "Accept, Authorization, Cookie, X-GitHub-OTP,Accept-Encoding, Accept, X-Requested-With"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id, e.g. ``MDc6UmVsZWFzZTE3MzcyNzkw`` for Release 17372790."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def json_bytes(obj: Any) -> bytes:
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
    releases: dict[int, Release] = field(default_factory=dict, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def node_id(self) -> str:
        return node_id("Repository", self.id)


@dataclass
class Asset:
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
    # "" : GitHub's "sha256:<hex>" of data; None: no "digest" key (GitHub Enterprise Server
    # before 3.18); any other string is answered as is (a digest that names other bytes).
    digest: str | None = ""


@dataclass
class Release:
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
    assets: dict[int, Asset] = field(default_factory=dict)
    immutable: bool = False


@dataclass
class Fault:
    host: str
    substring: str
    status: int
    remaining: int
    message: str | None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class DownloadFault:
    kind: str  # "slow" | "garble" | "truncate" | "short"
    seconds: float = 0.0
    before_headers: bool = False
    remaining: int | None = None  # None: every download


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    # An App webhook (event, payload) the server delivers before it answers, as
    # GitHub does when an installation is created.
    webhook: tuple[str, dict[str, Any]] | None = None


@dataclass
class Download:
    """What the objects host is to send: computed under the lock, streamed outside it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    declared_length: int | None = None  # Content-Length when it differs from len(body) (truncation)
    slow_seconds: float = 0.0
    slow_before_headers: bool = False
    filename: str | None = None


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ============================================================================ HTTP plumbing
