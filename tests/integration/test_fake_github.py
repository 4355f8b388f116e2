"""The fake GitHub behaves like GitHub for the clients Envelope uses: PyGithub and requests."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import github
import pytest
import requests
from github import Auth, GithubException, GithubRetry
from github.GitRelease import GitRelease
from github.PaginatedList import PaginatedList

from tests.fake_github import (
    FakeGitHub,
    ping_payload,
    release_event_payload,
    sign_payload,
    webhook_body,
    webhook_headers,
)

TOKEN = "ghp_fakeprivatetoken0123456789"
OCTET = "application/octet-stream"


def wheel_bytes(name: str, size: int = 3000) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (b"PK\x03\x04" + seed * (size // len(seed) + 1))[:size]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def private(fake: FakeGitHub):
    """acme/billing (private, TOKEN): 7 releases (newest a draft), 1-3 wheels each."""
    repo = fake.add_repo("acme", "billing", private=True, token=TOKEN)
    releases = []
    for index in range(7):
        release = fake.add_release(
            repo.full_name,
            f"v1.{index}.0",
            name=f"billing 1.{index}.0",
            draft=index == 6,
            prerelease=index == 5,
            body=f"notes {index}",
        )
        for n in range(1 + index % 3):
            filename = f"billing-1.{index}.{n}-py3-none-any.whl"
            fake.add_asset(repo.full_name, release["id"], filename, wheel_bytes(filename))
        releases.append(fake.release_json(repo.full_name, release["id"]))
    return repo, releases


def hub(fake: FakeGitHub, token: str | None = None, **kwargs: object) -> github.Github:
    """PyGithub against the fake. PyGithub sleeps 0.25 s between requests by default: not here."""
    kwargs.setdefault("seconds_between_requests", 0)
    auth = Auth.Token(token) if token else None
    return github.Github(base_url=fake.api_url, auth=auth, **kwargs)  # type: ignore[arg-type]


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


# ---------------------------------------------------------------------------- PyGithub


def test_pygithub_lists_private_releases_and_assets_across_pages(fake: FakeGitHub, private) -> None:
    repo_info, releases = private
    with hub(fake, TOKEN, per_page=2) as gh:
        repo = gh.get_repo("acme/billing")
        assert (repo.id, repo.full_name, repo.private, repo.default_branch) == (
            repo_info.id,
            "acme/billing",
            True,
            "main",
        )
        assert repo.owner.login == "acme"

        seen = list(repo.get_releases())
        assert [r.tag_name for r in seen] == [f"v1.{i}.0" for i in reversed(range(7))]  # newest first
        draft = seen[0]
        assert draft.draft is True and draft.published_at is None  # drafts listed for the token holder
        assert seen[1].prerelease is True
        for release, expected in zip(seen, reversed(releases), strict=True):
            assert release.id == expected["id"]
            assert release.name == expected["name"] and release.body == expected["body"]
            assert isinstance(release.created_at, datetime)
            assert release.author.login == "github-actions[bot]"
            assert release.url == f"{fake.api_url}/repos/acme/billing/releases/{release.id}"
            assert release.upload_url.endswith("/assets{?name,label}")
            assert release.tarball_url and release.zipball_url and release.html_url
            listed = list(release.get_assets())
            assert [a.name for a in listed] == [a["name"] for a in expected["assets"]]
            assert [a.name for a in release.assets] == [a.name for a in listed]  # embedded copy too
            for asset in listed:
                data = wheel_bytes(asset.name)
                assert asset.size == len(data)
                assert asset.state == "uploaded"
                assert asset.content_type == OCTET
                assert asset.download_count == 0
                assert asset.digest == "sha256:" + hashlib.sha256(data).hexdigest()
                assert asset.uploader.login == "github-actions[bot]"
                assert asset.url == f"{fake.api_url}/repos/acme/billing/releases/assets/{asset.id}"
                assert asset.browser_download_url.endswith("/" + asset.name)

        assert gh.get_repo("acme/billing").get_release("v1.3.0").id == releases[3]["id"]
        assert repo.get_release(releases[6]["id"]).draft is True
        assert repo.get_latest_release().tag_name == "v1.4.0"  # not the prerelease nor the draft

    pages = [r for r in fake.matching("/releases?", host="api") if "/assets" not in r.path]
    assert len(pages) == 4  # 7 releases, 2 a page
    assert all(r.header("Authorization") == f"token {TOKEN}" for r in fake.requests)
    # GitHub's own Link URLs use /repositories/{id}; PyGithub follows them as given.
    assert any(f"/repositories/{repo_info.id}/releases?" in r.path for r in pages)


def test_pygithub_anonymous_public_repo_hides_drafts(fake: FakeGitHub) -> None:
    repo = fake.add_repo("acme", "tools", owner_type="Organization")
    published = []
    for index in range(5):
        release = fake.add_release(repo.full_name, f"0.{index}", draft=index == 2)
        fake.add_asset(repo.full_name, release["id"], f"tools-0.{index}-py3-none-any.whl", b"wheel %d" % index)
        if index != 2:
            published.append(release["tag_name"])
    draft_id = next(r.id for r in fake.repo("acme/tools").releases.values() if r.draft)

    with hub(fake, per_page=1) as gh:
        public = gh.get_repo("acme/tools")
        assert public.private is False and public.organization.login == "acme"
        tags = [r.tag_name for r in public.get_releases()]
        assert tags == list(reversed(published))
        for release in public.get_releases():
            assert [a.name for a in release.get_assets()] == [f"tools-{release.tag_name}-py3-none-any.whl"]
        with pytest.raises(github.UnknownObjectException):
            public.get_release(draft_id)
    assert all(r.header("Authorization") is None for r in fake.requests)
    assert fake.count("/releases?", host="api") >= 4


def test_private_repo_is_404_without_its_token(fake: FakeGitHub, private) -> None:
    other = fake.add_repo("acme", "other", private=True, token="ghp_othertoken")
    url = f"{fake.api_url}/repos/acme/billing"
    for headers in ({}, {"Authorization": "token ghp_othertoken"}, {"Authorization": f"Bearer {other.token}"}):
        for path in ("", "/releases", f"/releases/{private[1][0]['id']}"):
            response = get(url + path, **headers)
            assert response.status_code == 404, (headers, path)
            assert response.json()["message"] == "Not Found"
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"
            assert "ETag" not in response.headers
            assert response.headers["X-GitHub-Request-Id"]
    asset_url = private[1][0]["assets"][0]["url"]
    assert get(asset_url, Accept=OCTET).status_code == 404
    assert get(asset_url, Accept=OCTET, Authorization="token ghp_othertoken").status_code == 404
    # A token GitHub does not know at all: 401 Bad credentials, on every route.
    bad = get(url, Authorization="token ghp_nonsense")
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"

    with hub(fake) as anonymous:
        with pytest.raises(github.UnknownObjectException):
            anonymous.get_repo("acme/billing")
    with hub(fake, "ghp_nonsense") as wrong:
        with pytest.raises(github.BadCredentialsException):
            wrong.get_repo("acme/billing")
    with hub(fake, TOKEN) as right:
        assert right.get_repo("acme/billing").private is True
        with pytest.raises(github.UnknownObjectException):
            right.get_repo("acme/other")


# ---------------------------------------------------------------------------- downloads


def test_asset_download_redirects_to_objects_host_without_credentials(fake: FakeGitHub, private) -> None:
    asset = private[1][2]["assets"][1]
    expected = wheel_bytes(asset["name"])

    for auth in (f"Bearer {TOKEN}", f"token {TOKEN}"):
        response = get(asset["url"], Accept=OCTET, Authorization=auth)
        assert response.status_code == 200
        assert response.content == expected
        assert [r.status_code for r in response.history] == [302]
        location = response.history[0].headers["Location"]
        assert location.startswith(fake.objects_url + "/")
        assert parse_qs(urlsplit(location).query)["X-Amz-Signature"]
        assert response.headers["Content-Disposition"] == f"attachment; filename={asset['name']}"
        assert int(response.headers["Content-Length"]) == asset["size"]
    fake.assert_no_auth_leaks()  # requests strips Authorization on the cross-host redirect
    assert fake.count("/github-production-release-asset-2e65be/", host="objects") == 2

    as_json = get(asset["url"], Authorization=f"token {TOKEN}")
    assert as_json.status_code == 200
    assert as_json.json()["id"] == asset["id"] and as_json.json()["state"] == "uploaded"

    # A client that carries the token over to the CDN is caught.
    redirect = requests.get(
        asset["url"], headers={"Accept": OCTET, "Authorization": f"Bearer {TOKEN}"}, allow_redirects=False, timeout=10
    )
    assert redirect.status_code == 302 and redirect.content == b""
    leak = get(redirect.headers["Location"], Authorization=f"Bearer {TOKEN}")
    assert leak.status_code == 400 and b"InvalidArgument" in leak.content
    assert len(fake.auth_leaks) == 1
    assert fake.auth_leaks[0].header("Authorization") == f"Bearer {TOKEN}"
    with pytest.raises(AssertionError, match="credentials were sent"):
        fake.assert_no_auth_leaks()

    # The signed URL is the credential: tampering fails, the clean URL still works.
    assert get(redirect.headers["Location"].replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403
    ranged = get(redirect.headers["Location"], Range="bytes=10-19")
    assert ranged.status_code == 206 and ranged.content == expected[10:20]


def test_public_browser_download_url(fake: FakeGitHub) -> None:
    fake.add_repo("acme", "tools")
    release = fake.add_release("acme/tools", "1.0")
    asset = fake.add_asset("acme/tools", release["id"], "tools-1.0-py3-none-any.whl", b"public wheel")
    response = get(asset["browser_download_url"])
    assert response.status_code == 200 and response.content == b"public wheel"
    assert response.history[0].status_code == 302


def test_slow_and_corrupt_downloads(fake: FakeGitHub, private) -> None:
    slow, garbled, truncated, short = (release["assets"][0] for release in private[1][1:5])
    fake.slow_download(slow["name"], 0.6, times=1)
    started = time.monotonic()
    assert get(slow["url"], Accept=OCTET, Authorization=f"token {TOKEN}").content == wheel_bytes(slow["name"])
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    get(slow["url"], Accept=OCTET, Authorization=f"token {TOKEN}")
    assert time.monotonic() - started < 0.5  # times=1 used up

    fake.corrupt_download(garbled["name"])
    bad = get(garbled["url"], Accept=OCTET, Authorization=f"token {TOKEN}")
    assert bad.status_code == 200 and len(bad.content) == garbled["size"]
    assert bad.content != wheel_bytes(garbled["name"])

    fake.corrupt_download(truncated["name"], "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(truncated["url"], Accept=OCTET, Authorization=f"token {TOKEN}")

    fake.corrupt_download(short["name"], "short")
    assert len(get(short["url"], Accept=OCTET, Authorization=f"token {TOKEN}").content) == short["size"] // 2
    fake.assert_no_auth_leaks()


def test_stop_cuts_a_stalled_download() -> None:
    fake = FakeGitHub().start()
    repo = fake.add_repo("acme", "stall", private=True, token=TOKEN)
    release = fake.add_release(repo.full_name, "1.0")
    asset = fake.add_asset(repo.full_name, release["id"], "big.whl", b"x" * 500_000)
    fake.slow_download("big.whl", 30)
    outcome: list[object] = []

    def worker() -> None:
        try:
            outcome.append(len(get(asset["url"], Accept=OCTET, Authorization=f"token {TOKEN}").content))
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    fake.wait_for_request("big", host="objects", timeout=5)
    started = time.monotonic()
    fake.stop()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert isinstance(outcome[0], requests.RequestException)  # a short read, not a hang
    assert fake.errors == []
    with pytest.raises(OSError):  # both servers are gone
        socket.create_connection(("127.0.0.1", urlsplit(asset["url"]).port or 0), timeout=1).close()


# ---------------------------------------------------------------------------- conditional requests


def test_etag_round_trip_and_mutations(fake: FakeGitHub, private) -> None:
    repo, releases = private
    headers = {"Authorization": f"token {TOKEN}"}
    list_url = f"{fake.api_url}/repos/acme/billing/releases?per_page=3"
    first = get(list_url, **headers)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Content-Type"] == "application/json; charset=utf-8"
    remaining = int(first.headers["X-RateLimit-Remaining"])

    again = get(list_url, **headers, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining  # 304s are free

    detail_url = releases[5]["url"]
    detail_etag = get(detail_url, **headers).headers["ETag"]
    fake.add_asset(repo.full_name, releases[5]["id"], "late.whl", b"late")
    changed = get(list_url, **headers, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "late.whl" in [a["name"] for r in changed.json() for a in r["assets"]]
    assert get(detail_url, **headers, **{"If-None-Match": detail_etag}).status_code == 200

    for mutate in (
        lambda: fake.set_release(repo.full_name, releases[6]["id"], draft=False),
        lambda: fake.remove_asset(repo.full_name, releases[6]["assets"][0]["id"]),
    ):
        before = get(list_url, **headers).headers["ETag"]
        mutate()
        assert get(list_url, **headers, **{"If-None-Match": before}).status_code == 200


def test_pygithub_conditional_requests(fake: FakeGitHub, private) -> None:
    """How to poll the releases list conditionally with PyGithub 2.10 (see the report)."""
    repo, releases = private
    with hub(fake, TOKEN, per_page=3) as gh:
        requester = gh.requester
        url = "/repos/acme/billing/releases"
        headers, data = requester.requestJsonAndCheck("GET", url, parameters={"per_page": 3})
        etag = headers["etag"]  # PyGithub lower-cases header names
        everything = PaginatedList(GitRelease, requester, firstData=data, firstHeaders=headers)
        assert [r.id for r in everything] == [r["id"] for r in reversed(releases)]

        headers, data = requester.requestJsonAndCheck(
            "GET", url, parameters={"per_page": 3}, headers={"If-None-Match": etag}
        )
        assert data is None  # 304: requestJsonAndCheck returns (headers, None), no exception
        status, _, body = requester.requestJson("GET", url, parameters={"per_page": 3}, headers={"If-None-Match": etag})
        assert (status, body) == (304, "")

        fake.add_release(repo.full_name, "v2.0.0")
        headers, data = requester.requestJsonAndCheck(
            "GET", url, parameters={"per_page": 3}, headers={"If-None-Match": etag}
        )
        assert data is not None and data[0]["tag_name"] == "v2.0.0" and headers["etag"] != etag

        release = gh.get_repo("acme/billing").get_release(releases[2]["id"])
        assert release.update() is False  # GithubObject.update() sends If-None-Match itself
        fake.set_release(repo.full_name, releases[2]["id"], body="edited")
        assert release.update() is True and release.body == "edited"


# ---------------------------------------------------------------------------- faults and limits


def test_fail_next_then_recovers(fake: FakeGitHub, private) -> None:
    url = f"{fake.api_url}/repos/acme/billing/releases"
    fake.fail_next("/repos/acme/billing/releases", 500)
    failed = get(url, Authorization=f"Bearer {TOKEN}")
    assert failed.status_code == 500
    assert failed.json()["message"] == "Server Error" and "documentation_url" in failed.json()
    assert failed.headers["X-RateLimit-Remaining"]
    assert get(url, Authorization=f"Bearer {TOKEN}").status_code == 200

    # PyGithub's default GithubRetry retries 5xx at once: one injected 502 is invisible to it ...
    fake.fail_next("/repos/acme/billing", 502)
    before = fake.count("/repos/acme/billing", host="api")
    with hub(fake, TOKEN) as gh:
        assert gh.get_repo("acme/billing").id == private[0].id
    assert fake.count("/repos/acme/billing", host="api") == before + 2
    # ... and without retries it surfaces as a GithubException; the next call succeeds.
    fake.fail_next("/repos/acme/billing", 503)
    with hub(fake, TOKEN, retry=None) as gh:
        with pytest.raises(GithubException) as caught:
            gh.get_repo("acme/billing")
        assert caught.value.status == 503
        assert caught.value.data["message"] == "Service Unavailable"
        assert gh.get_repo("acme/billing").private is True


def test_rate_limit_exhaustion(fake: FakeGitHub, private) -> None:
    reset = int(time.time()) + 600
    fake.set_rate_limit(2, reset, limit=5000)
    url = f"{fake.api_url}/repos/acme/billing"
    auth = {"Authorization": f"token {TOKEN}"}
    ok = [get(url, **auth) for _ in range(2)]
    assert [r.status_code for r in ok] == [200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in ok] == ["1", "0"]
    assert ok[1].headers["X-RateLimit-Used"] == "5000"
    etag = ok[1].headers["ETag"]

    limited = get(url, **auth)
    assert limited.status_code == 403
    body = limited.json()
    assert body["message"].startswith("API rate limit exceeded for user ID ")
    assert body["documentation_url"] == "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == str(reset)
    assert limited.headers["X-RateLimit-Limit"] == "5000"
    assert limited.headers["X-RateLimit-Resource"] == "core"
    anonymous = get(f"{fake.api_url}/repos/acme/tools")
    assert anonymous.status_code == 403
    assert anonymous.json()["message"].startswith("API rate limit exceeded for 127.0.0.1. (But here's the good news")
    assert get(url, **auth, **{"If-None-Match": etag}).status_code == 403  # no 304 once exhausted

    status = get(f"{fake.api_url}/rate_limit", **auth)  # never limited, never counted
    assert status.status_code == 200
    assert status.json()["resources"]["core"] == {"limit": 5000, "used": 5000, "remaining": 0, "reset": reset}

    with hub(fake, TOKEN, retry=None) as gh:
        with pytest.raises(github.RateLimitExceededException):
            gh.get_repo("acme/billing")
        assert gh.rate_limiting == (0, 5000) and gh.rate_limiting_resettime == reset
    retry = GithubRetry(max_rate_limit_wait=0)
    with hub(fake, TOKEN, retry=retry) as gh:
        with pytest.raises(github.RateLimitExceededExceedsMaxWait):
            gh.get_repo("acme/billing")


def test_rate_limit_refills_at_reset_and_pygithub_waits(fake: FakeGitHub, private) -> None:
    fake.set_rate_limit(0, time.time() + 1)
    started = time.monotonic()
    with hub(fake, TOKEN) as gh:  # default GithubRetry sleeps
        assert gh.get_repo("acme/billing").private is True
    assert time.monotonic() - started >= 0.9
    assert fake.count("/repos/acme/billing") == 2  # the 403, then the retry after the reset


# ---------------------------------------------------------------------------- headers and pagination


def test_api_headers_and_link_pagination(fake: FakeGitHub, private) -> None:
    repo, _ = private
    auth = {"Authorization": f"token {TOKEN}"}
    first = get(f"{fake.api_url}/repos/acme/billing/releases?per_page=2", **auth)
    for name in ("ETag", "X-GitHub-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                 "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource", "X-GitHub-Api-Version-Selected"):
        assert first.headers[name], name
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.links["next"]["url"] == f"{fake.api_url}/repositories/{repo.id}/releases?per_page=2&page=2"
    assert first.links["last"]["url"].endswith("page=4") and "prev" not in first.links
    middle = get(first.links["next"]["url"], **auth)
    assert set(middle.links) == {"prev", "next", "last", "first"}
    assert middle.headers["Link"].index('rel="prev"') < middle.headers["Link"].index('rel="next"')
    last = get(first.links["last"]["url"], **auth)
    assert set(last.links) == {"prev", "first"} and len(last.json()) == 1
    assert get(f"{fake.api_url}/repos/acme/billing/releases?per_page=2&page=9", **auth).json() == []

    assets = get(f"{fake.api_url}/repos/acme/billing/releases/{private[1][2]['id']}/assets?per_page=1", **auth)
    assert len(assets.json()) == 1 and "next" in assets.links
    tag = get(f"{fake.api_url}/repos/acme/billing/releases/tags/v1.2.0", **auth)
    assert tag.json()["id"] == private[1][2]["id"]
    draft_tag = get(f"{fake.api_url}/repos/acme/billing/releases/tags/v1.6.0", **auth)
    assert draft_tag.status_code == 404  # drafts have no tag yet


def test_repository_object_shape(fake: FakeGitHub, private) -> None:
    data = get(f"{fake.api_url}/repos/acme/billing", Authorization=f"token {TOKEN}").json()
    for key in ("id", "node_id", "name", "full_name", "private", "owner", "html_url", "url", "releases_url",
                "default_branch", "visibility", "created_at", "pushed_at", "permissions"):
        assert key in data, key
    assert data["visibility"] == "private" and data["owner"]["login"] == "acme"
    release = private[1][0]
    for key in ("url", "html_url", "assets_url", "upload_url", "tarball_url", "zipball_url", "id", "node_id",
                "tag_name", "target_commitish", "name", "draft", "prerelease", "created_at", "published_at",
                "author", "assets", "body"):
        assert key in release, key
    for key in ("url", "browser_download_url", "id", "node_id", "name", "label", "state", "content_type", "size",
                "download_count", "created_at", "updated_at", "uploader"):
        assert key in release["assets"][0], key


# ---------------------------------------------------------------------------- webhooks


def test_sign_payload_matches_githubs_documented_vector() -> None:
    # https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    assert (
        sign_payload("It's a Secret to Everybody", b"Hello, World!")
        == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_webhook_payloads_and_headers(fake: FakeGitHub, private) -> None:
    repo, releases = private
    payload = release_event_payload(fake, repo.full_name, releases[4]["id"])
    assert payload["action"] == "published"
    assert payload["release"]["id"] == releases[4]["id"] and payload["release"]["assets"]
    assert payload["repository"]["full_name"] == "acme/billing" and payload["repository"]["private"] is True
    assert payload["repository"]["owner"]["login"] == "acme"
    assert payload["sender"]["login"] == "github-actions[bot]"
    assert payload["organization"]["login"] == "acme"
    assert release_event_payload(fake, repo.full_name, releases[4], "edited", changes={})["changes"] == {}

    body = webhook_body(payload)
    assert json.loads(body) == payload
    headers = webhook_headers("release", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "s3cret", body)
    assert headers["X-GitHub-Event"] == "release"
    assert headers["X-GitHub-Delivery"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert headers["X-Hub-Signature-256"] == sign_payload("s3cret", body)
    assert headers["User-Agent"] == "GitHub-Hookshot/abc123"
    assert headers["Content-Type"] == "application/json"
    assert "X-Hub-Signature-256" not in webhook_headers("release", "d", None, body)

    ping = ping_payload(fake, repo.full_name)
    assert ping["hook"]["events"] == ["release"] and ping["repository"]["id"] == repo.id and ping["zen"]
