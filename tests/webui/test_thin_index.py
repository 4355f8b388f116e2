"""The index pages' thin path (web/machine/thin.py) answers exactly as the
Flask views do: the same status, headers and bytes, for HTML, JSON, gzip,
304s and HEAD; and it leaves to Flask what it must not answer (unknown or
wrong credentials, missing pages, a revoked token on its very next request)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from envelope.config import Settings
from envelope.orgs.tokens import find_token, revoke_token
from tests.webui.conftest import SIMPLE_JSON, basic
from web import create_app
from web.machine.thin import ThinPath

PAGES = ("/acme/simple/", "/acme/simple/billing/")
VARIANTS = (
    {},
    {"Accept": SIMPLE_JSON},
    {"Accept": "application/vnd.pypi.simple.v1+html"},
    {"Accept-Encoding": "gzip"},
    {"Accept": SIMPLE_JSON, "Accept-Encoding": "gzip, deflate"},
)


def environ(path: str, headers: dict[str, str], method: str = "GET") -> dict:
    return EnvironBuilder(path=path, method=method, headers=headers).get_environ()


def answer(app, path: str, headers: dict[str, str], method: str = "GET"):
    """(status, headers, body) through everything in front of Flask (the thin path first)."""
    body, status, sent = run_wsgi_app(app.wsgi_app, environ(path, headers, method), buffered=True)
    return status, list(sent.items()), b"".join(body)


def flask_answer(app, path: str, headers: dict[str, str], method: str = "GET"):
    """(status, headers, body) from the Flask views alone."""
    body, status, sent = run_wsgi_app(thin(app).flask, environ(path, headers, method), buffered=True)
    return status, list(sent.items()), b"".join(body)


def thin(app) -> ThinPath:
    assert isinstance(app.wsgi_app, ThinPath)
    return app.wsgi_app


def answered_thin(app, path: str, headers: dict[str, str], method: str = "GET") -> bool:
    """Whether the thin path answers this request itself (rather than handing it to Flask:
    a Fallback, or any other exception, as ThinPath.__call__ does)."""
    try:
        return thin(app).answer(environ(path, headers, method)) is not None
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    """The suite's settings with the auth cache on, as served: the thin path
    answers only for credentials the cache holds."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    return Settings.from_env(
        {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
         "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "60"}
    )


@pytest.fixture
def published(world):
    world.wheel("billing", "1.0")
    world.wheel("billing", "2.0")
    world.wheel("ledger", "0.1")
    return world


def assert_thin_pages_match_flask(app, path: str, credentials: dict[str, str]) -> None:
    """For every format: the thin path answers GET, HEAD and the 304 of a
    revalidation itself, with the Flask view's status, headers and bytes."""
    for variant in VARIANTS:
        headers = {**credentials, **variant}
        assert answered_thin(app, path, headers)
        for method in ("GET", "HEAD"):
            got, expected = answer(app, path, headers, method), flask_answer(app, path, headers, method)
            assert got == expected
            assert expected[0] == "200 OK" and (expected[2] == b"") == (method == "HEAD")
        etag = dict(expected[1])["ETag"]
        revalidate = {**headers, "If-None-Match": etag}
        assert answered_thin(app, path, revalidate)
        got, expected = answer(app, path, revalidate), flask_answer(app, path, revalidate)
        assert got == expected and expected[0] == "304 NOT MODIFIED" and expected[2] == b""


def statuses_left_to_flask(app, cases: list[tuple[str, dict[str, str]]]) -> list[int]:
    """Each (path, headers) answered by Flask, not the thin path, with the
    same answer through the whole app; the statuses, in order."""
    statuses = []
    for path, headers in cases:
        got, expected = answer(app, path, headers), flask_answer(app, path, headers)
        assert got == expected
        assert not answered_thin(app, path, headers)
        statuses.append(int(expected[0][:3]))
    return statuses


@pytest.mark.parametrize("restricted", [False, True], ids=["every-project", "restricted"])
def test_pages_are_the_flask_views_bytes_for_every_format_encoding_and_method(published, restricted):
    app = published.app
    secret = published.token(projects=["billing<2"]) if restricted else published.token()
    assert not answered_thin(app, PAGES[0], basic(secret))  # not verified yet: Flask verifies and caches
    answer(app, PAGES[0], basic(secret))
    for path in PAGES:
        assert_thin_pages_match_flask(app, path, basic(secret))
    gz = answer(app, "/acme/simple/billing/", {**basic(secret), "Accept-Encoding": "gzip"})
    assert dict(gz[1])["Content-Encoding"] == "gzip" and gz[2][:2] == b"\x1f\x8b"
    listing = answer(app, "/acme/simple/", basic(secret))[2].decode()
    assert ("ledger" in listing) is not restricted


def test_what_the_thin_path_leaves_to_flask_is_answered_by_flask(published):
    app = published.app
    secret = published.token()
    answer(app, "/acme/simple/", basic(secret))  # cached from here on
    cases = [
        ("/acme/simple/", {}),  # no credentials: 401 with the challenge
        ("/acme/simple/", basic("envl_" + "0" * 40)),  # unknown token: 401
        ("/acme/simple/missing/", basic(secret)),  # no such project (and no upstream): 404
        ("/acme/simple/Billing/", basic(secret)),  # another spelling: 301 to the normal one
        ("/acme/simple/", {**basic(secret), "Accept": "application/xml"}),  # 406
        ("/other/simple/", basic(secret)),  # another organization's index: 404
    ]
    assert statuses_left_to_flask(app, cases) == [401, 401, 404, 301, 406, 404]
    assert dict(answer(app, "/acme/simple/", {})[1])["WWW-Authenticate"] == 'Basic realm="envelope"'


def test_a_revoked_token_is_refused_on_its_very_next_request(published):
    app, db = published.app, published.db
    secret = published.token()
    for path in PAGES:
        answer(app, path, basic(secret))
        assert answered_thin(app, path, basic(secret))
    with db.write() as session:
        revoke_token(session, find_token(session, secret).id, actor="tests")
    for path in PAGES:
        assert not answered_thin(app, path, basic(secret))  # the epoch moved: Flask verifies again
        status, _headers, body = answer(app, path, basic(secret))
        assert status.startswith("401"), body



def test_an_untrusted_host_gets_flasks_400_and_a_trusted_one_the_page(published, settings):
    trusting = create_app(Settings.from_env({
        "ENVELOPE_DATA_DIR": str(settings.data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
        "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "60",
        "ENVELOPE_TRUSTED_HOSTS": "pkgs.example.com",
    }))
    secret = published.token()
    good, evil = ({**basic(secret), "Host": host} for host in ("pkgs.example.com", "evil.example"))
    answer(trusting, "/acme/simple/", good)  # verified and cached
    assert answered_thin(trusting, "/acme/simple/", good)
    got = answer(trusting, "/acme/simple/", good)
    assert got == flask_answer(trusting, "/acme/simple/", good) and got[0] == "200 OK"
    assert not answered_thin(trusting, "/acme/simple/", evil)
    got = answer(trusting, "/acme/simple/", evil)
    assert got == flask_answer(trusting, "/acme/simple/", evil) and got[0].startswith("400")
    trusting.extensions["envelope"].db.dispose()


def test_index_pages_are_counted_the_same_on_both_paths(app, world, published):
    from envelope import quotas, usage

    token = world.token(scope="read")
    for path in PAGES:  # once through Flask (fills the auth cache), then through the thin path
        assert answer(app, path, basic(token))[0].startswith("200")
    assert all(answered_thin(app, path, basic(token)) for path in PAGES)
    for path in PAGES:
        assert answer(app, path, basic(token))[0].startswith("200")
    usage.flush_all()
    with world.db.read() as session:
        assert quotas.org_usage(session, world.acme.id).requests == 2 * len(PAGES) + len(PAGES)
