"""Proxied project pages from the page cache and on the thin path
(envelope.upstream.pages, web/machine/thin.py): a stored page is answered
without Flask, with the bytes and headers Flask's view sends, rendered once
per stored page, upstream, restriction and format; a new fetch or a change
of the proxy's settings changes what is served; a page never fetched, and
any 404, are Flask's to answer. The upstream is a local HTTP server."""
from __future__ import annotations

import gzip
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from envelope import quotas, usage
from envelope.config import Settings
from envelope.index import pages as index
from envelope.models import Organization, OutboxMessage, TaskName, UpstreamPage
from envelope.models.base import utcnow
from envelope.orgs.authentication import cached_caller
from envelope.orgs.membership import operator_access
from envelope.upstream import pages as upstream_pages
from envelope.upstream.proxy import change_settings
from tests.integration.fake_upstream import Recorder
from tests.webui.conftest import SIMPLE_JSON, basic
from tests.webui.test_thin_index import answer, answered_thin, assert_thin_pages_match_flask, flask_answer

PAGE = "/acme/simple/pubpkg/"
HOUR = 3600


def upstream_page(versions: list[str], uploaded: str = "2024-01-01T00:00:00.000000Z") -> tuple[str, bytes]:
    files = [{"filename": f"pubpkg-{v}-py3-none-any.whl", "url": f"https://files.example.invalid/pubpkg-{v}.whl",
              "hashes": {"sha256": f"{i:064x}"}, "size": 1000 + i, "upload-time": uploaded}
             for i, v in enumerate(versions)]
    return SIMPLE_JSON, json.dumps({"meta": {"api-version": "1.1"}, "name": "pubpkg", "files": files}).encode()


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    """The auth cache on (the thin path answers only for cached credentials),
    a local upstream allowed, pages fresh for an hour."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    return Settings.from_env(
        {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
         "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "60",
         "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.0/8", "ENVELOPE_UPSTREAM_TTL": str(HOUR)}
    )


@pytest.fixture
def upstream():
    host = Recorder({"/simple/pubpkg/": upstream_page(["1.0", "2.0"])})
    yield host
    host.shutdown()
    host.server_close()


def proxy(world, **changes) -> None:
    with world.db.write() as session:
        organization = session.get(Organization, world.acme.id)
        change_settings(session, operator_access(organization, "tests"), world.app.extensions["envelope"].settings,
                        **changes)


@pytest.fixture
def proxied(world, upstream):
    proxy(world, enabled=True, upstream_url=upstream.base + "/simple/")
    return world


def warmed(world, secret: str) -> dict[str, str]:
    """The caller's credentials, verified and cached, and the page stored (both through Flask)."""
    headers = {**basic(secret), "Accept": SIMPLE_JSON}
    assert not answered_thin(world.app, PAGE, headers)  # never fetched: Flask waits for the upstream
    assert answer(world.app, PAGE, headers)[0] == "200 OK"
    return headers


def served(world, headers: dict[str, str]) -> dict:
    """The page as the thin path answers it (asserting that it does)."""
    assert answered_thin(world.app, PAGE, headers)
    status, _headers, body = answer(world.app, PAGE, headers)
    assert status == "200 OK"
    return json.loads(body)


@pytest.mark.parametrize("restricted", [False, True], ids=["every-project", "restricted"])
def test_a_stored_proxied_page_is_the_flask_views_bytes_for_every_format_encoding_and_method(
        proxied, upstream, restricted):
    app = proxied.app
    secret = proxied.token(projects=["pubpkg<2"]) if restricted else proxied.token()
    warmed(proxied, secret)
    assert_thin_pages_match_flask(app, PAGE, basic(secret))
    page = served(proxied, {**basic(secret), "Accept": SIMPLE_JSON})
    assert page["versions"] == (["1.0"] if restricted else ["1.0", "2.0"])
    assert page["meta"]["tracks"] == [upstream.base + "/simple/pubpkg/"]
    assert upstream.requests_for("/simple/pubpkg/") == 1  # stored once, served from then on


def test_the_cached_page_is_the_page_rendered_afresh(proxied):
    secret = proxied.token()
    headers = warmed(proxied, secret)
    rt = proxied.app.extensions["envelope"]
    caller = cached_caller(rt.cache, rt.settings.secret_key, "acme", "__token__", secret)  # what both paths serve
    page = upstream_pages.project_page(rt, proxied.acme.id, caller, "pubpkg")
    for accept, as_json in ((SIMPLE_JSON, True), ("text/html", False)):
        fresh = index.render_page(page.data(), as_json)
        assert answer(proxied.app, PAGE, {**headers, "Accept": accept})[2] == fresh
        zipped = answer(proxied.app, PAGE, {**headers, "Accept": accept, "Accept-Encoding": "gzip"})[2]
        assert gzip.decompress(zipped) == fresh


def test_a_stale_page_is_served_at_once_and_the_new_fetch_changes_it(proxied, upstream):
    secret = proxied.token()
    headers = warmed(proxied, secret)
    db = proxied.db
    upstream.routes["/simple/pubpkg/"] = upstream_page(["1.0", "2.0", "3.0"])
    with db.write() as session:  # past its freshness
        session.execute(update(UpstreamPage).values(fetched=utcnow() - timedelta(seconds=2 * HOUR)))
    old = answer(proxied.app, PAGE, headers)
    assert served(proxied, headers)["versions"] == ["1.0", "2.0"]  # stale, from the store: no wait
    assert upstream.requests_for("/simple/pubpkg/") == 1
    with db.read() as session:  # one refresh asked of the worker, however many stale requests
        asked = session.scalars(select(OutboxMessage).where(OutboxMessage.task == TaskName.refresh_upstream_page))
        page_ids = [message.kwargs["page_id"] for message in asked]
    assert len(page_ids) == 1
    rt = proxied.app.extensions["envelope"]
    assert upstream_pages.refresh_page(rt, page_ids[0]) == 200  # what the worker's task runs
    assert served(proxied, headers)["versions"] == ["1.0", "2.0", "3.0"]
    new = answer(proxied.app, PAGE, headers)
    assert dict(new[1])["ETag"] != dict(old[1])["ETag"]
    assert answer(proxied.app, PAGE, {**headers, "If-None-Match": dict(old[1])["ETag"]})[0] == "200 OK"


def test_the_proxy_settings_change_the_served_page(proxied, upstream):
    secret = proxied.token()
    headers = warmed(proxied, secret)
    assert served(proxied, headers)["versions"] == ["1.0", "2.0"]
    proxy(proxied, reserve=["pub*"])  # reserved: never proxied
    assert not answered_thin(proxied.app, PAGE, headers)
    assert answer(proxied.app, PAGE, headers)[0].startswith("404")
    proxy(proxied, unreserve=["pub*"])
    assert served(proxied, headers)["versions"] == ["1.0", "2.0"]
    proxy(proxied, min_age=30 * 86400)  # the 2024 uploads are old enough...
    assert served(proxied, headers)["versions"] == ["1.0", "2.0"]
    other = Recorder({"/simple/pubpkg/": upstream_page(["1.0", "2.0"], uploaded=_now_stamp())})
    try:  # ...another upstream, whose files are new: held back, and its page tracked
        proxy(proxied, enabled=True, upstream_url=other.base + "/simple/")
        answer(proxied.app, PAGE, headers)  # stored through Flask: never fetched from this upstream
        page = served(proxied, headers)
        assert page["versions"] == [] and page["meta"]["tracks"] == [other.base + "/simple/pubpkg/"]
        proxy(proxied, min_age=0)
        assert served(proxied, headers)["versions"] == ["1.0", "2.0"]
    finally:
        other.shutdown()
        other.server_close()
    proxy(proxied, enabled=False)
    assert not answered_thin(proxied.app, PAGE, headers)
    assert answer(proxied.app, PAGE, headers)[0].startswith("404")


def test_another_upstream_with_the_same_page_is_tracked_not_the_cached_one(proxied, upstream):
    """Turning to another upstream drops the stored pages; the new one may get
    the dropped row's id and has the same files: the cached page must not be
    the old upstream's, which names the old upstream in its tracks."""
    secret = proxied.token()
    headers = warmed(proxied, secret)
    assert served(proxied, headers)["meta"]["tracks"] == [upstream.base + "/simple/pubpkg/"]
    other = Recorder({"/simple/pubpkg/": upstream.routes["/simple/pubpkg/"]})
    try:
        proxy(proxied, enabled=True, upstream_url=other.base + "/simple/")
        answer(proxied.app, PAGE, headers)
        assert served(proxied, headers)["meta"]["tracks"] == [other.base + "/simple/pubpkg/"]
    finally:
        other.shutdown()
        other.server_close()


def test_a_token_restricted_elsewhere_gets_flasks_404_and_a_private_name_the_private_page(proxied, upstream):
    elsewhere = proxied.token(projects=["billing"])
    reader = proxied.token()
    headers = warmed(proxied, reader)
    answer(proxied.app, "/acme/simple/", basic(elsewhere))  # verified and cached
    denied = {**basic(elsewhere), "Accept": SIMPLE_JSON}
    assert not answered_thin(proxied.app, PAGE, denied)
    got = answer(proxied.app, PAGE, denied)
    assert got == flask_answer(proxied.app, PAGE, denied) and got[0].startswith("404")
    proxied.wheel("pubpkg", "9.0")  # a private project takes the name: never proxied again
    page = served(proxied, headers)
    assert page["versions"] == ["9.0"] and "tracks" not in page["meta"]


def test_a_page_never_fetched_is_flasks_fetched_once_and_counted_once(proxied, upstream):
    secret = proxied.token()
    headers = {**basic(secret), "Accept": SIMPLE_JSON}
    answer(proxied.app, "/acme/simple/", headers)  # credentials cached: the thin path would answer a stored page
    assert not answered_thin(proxied.app, PAGE, headers)
    assert upstream.requests_for("/simple/pubpkg/") == 0  # the thin path never asked the upstream
    assert answer(proxied.app, PAGE, headers)[0] == "200 OK"  # the thin path left it to Flask, which fetched
    assert upstream.requests_for("/simple/pubpkg/") == 1
    assert served(proxied, headers)["versions"] == ["1.0", "2.0"]  # two requests on the thin path
    usage.flush_all()
    with proxied.db.read() as session:  # the listing, the page through Flask, twice through the thin path
        assert quotas.org_usage(session, proxied.acme.id).requests == 4


def _now_stamp() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
