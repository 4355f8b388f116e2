"""The files' thin path (web/machine/thin.py calling web.machine.files'
file_answer) answers exactly as the Flask view does: the same status,
headers and bytes for wheels and their `.metadata`, streamed or handed to
nginx (X-Accel-Redirect), for HEAD, 304, ranges and 416; it counts the same
downloads; and it leaves to Flask what it must not answer (another version
than a restricted token may read, another organization, unknown files, an
exceeded quota, a revoked token on its very next request)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envelope import quotas, usage
from envelope.config import Settings
from envelope.orgs.tokens import find_token, revoke_token
from tests.webui.conftest import basic
from tests.webui.test_thin_index import answer, answered_thin, flask_answer, statuses_left_to_flask

ACCEL_PREFIX = "/_envelope_files"


@pytest.fixture(params=[None, ACCEL_PREFIX], ids=["streamed", "x-accel-redirect"])
def settings(request, tmp_path: Path, migrated_sqlite: Path) -> Settings:
    """The auth cache on, as served (the thin path answers only for cached
    credentials); local storage streamed by Envelope or behind nginx."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    env = {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
           "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "60"}
    if request.param:
        env["ENVELOPE_ACCEL_REDIRECT_PREFIX"] = request.param
    return Settings.from_env(env)


@pytest.fixture
def published(world):
    world.files = {version: world.wheel("billing", version) for version in ("1.0", "2.0")}
    return world


def url(file, suffix: str = "") -> str:
    return f"/acme/files/{file.sha256}/{file.filename}{suffix}"


def same(app, path: str, headers: dict[str, str], method: str = "GET"):
    """The thin path answers, and as the Flask view would: (status, headers, body)."""
    assert answered_thin(app, path, headers, method)
    got, expected = answer(app, path, headers, method), flask_answer(app, path, headers, method)
    assert got == expected
    return expected


def downloads(world, file) -> int:
    usage.flush_all()
    with world.db.read() as session:
        return usage.file_downloads(session, [file.id]).get(file.id, 0)


@pytest.mark.parametrize("suffix", ["", ".metadata"], ids=["wheel", "metadata"])
def test_files_are_the_flask_views_bytes_for_get_head_304_and_ranges(published, settings, suffix):
    app, wheel = published.app, published.files["1.0"]
    secret = published.token()
    path = url(wheel, suffix)
    assert not answered_thin(app, path, basic(secret))  # not verified yet: Flask verifies and caches
    answer(app, path, basic(secret))
    accel = settings.accel_redirect_prefix is not None

    status, headers, body = same(app, path, basic(secret))
    headers = dict(headers)
    assert status == "200 OK" and headers["X-Content-Type-Options"] == "nosniff" and "Cookie" in headers["Vary"]
    assert ("X-Accel-Redirect" in headers) is accel
    assert (body == b"") is accel
    if not accel and suffix:
        assert body.startswith(b"Metadata-Version:")
    status, head, body = same(app, path, basic(secret), "HEAD")
    assert status == "200 OK" and body == b"" and dict(head)["Accept-Ranges"] == "bytes"
    for validator in ({"If-None-Match": headers["ETag"]}, {"If-Modified-Since": headers["Last-Modified"]},
                      {"If-None-Match": f'W/{headers["ETag"]}, "other"'}):
        status, _, body = same(app, path, {**basic(secret), **validator})
        assert status == "304 NOT MODIFIED" and body == b""
    size = int(dict(head)["Content-Length"])
    ranges = {"bytes=0-9": 206, "bytes=-5": 206, f"bytes={size + 10}-": 416, "bytes=0-1,4-5": 200}
    for byte_range, expected in ranges.items():
        status, sent, body = same(app, path, {**basic(secret), "Range": byte_range})
        assert int(status[:3]) == (200 if accel else expected)  # behind nginx, nginx answers the range
        if expected == 206 and not accel:
            assert len(body) == int(dict(sent)["Content-Length"]) in (10, 5)
    status, _, body = same(app, path, {**basic(secret), "Range": "bytes=0-9", "If-Range": '"stale"'})
    assert status == "200 OK"


def test_a_restricted_token_gets_only_its_versions_files(published):
    app, files = published.app, published.files
    secret = published.token(projects=["billing<2"])
    answer(app, url(files["1.0"]), basic(secret))  # verified and cached
    for suffix in ("", ".metadata"):
        assert same(app, url(files["1.0"], suffix), basic(secret))[0] == "200 OK"
        path = url(files["2.0"], suffix)
        assert not answered_thin(app, path, basic(secret))
        got = answer(app, path, basic(secret))
        assert got == flask_answer(app, path, basic(secret)) and got[0].startswith("404")


def test_what_the_thin_path_leaves_to_flask_is_answered_by_flask(published):
    app, wheel = published.app, published.files["1.0"]
    elsewhere = published.wheel("elsewhere", "1.0", org=published.other)
    secret = published.token()
    answer(app, url(wheel), basic(secret))  # cached from here on
    cases = [
        (url(wheel), {}),  # no credentials: 401 with the challenge
        (url(wheel), basic("envl_" + "0" * 40)),  # unknown token: 401
        (f"/acme/files/{'0' * 64}/{wheel.filename}", basic(secret)),  # the name with another sha256: 404
        (f"/acme/files/{wheel.sha256}/billing-9.0-py3-none-any.whl", basic(secret)),  # no such file: 404
        (url(elsewhere), basic(secret)),  # another organization's file, asked of acme: 404
        (url(elsewhere).replace("/acme/", "/other/", 1), basic(secret)),  # acme's token at other: 404
    ]
    assert statuses_left_to_flask(app, cases) == [401, 401, 404, 404, 404, 404]


def test_a_revoked_token_is_refused_on_its_very_next_request(published):
    app, db, wheel = published.app, published.db, published.files["1.0"]
    secret = published.token()
    paths = (url(wheel), url(wheel, ".metadata"))
    for path in paths:
        answer(app, path, basic(secret))
        assert answered_thin(app, path, basic(secret))
    with db.write() as session:
        revoke_token(session, find_token(session, secret).id, actor="tests")
    for path in paths:
        for method in ("GET", "HEAD"):
            assert not answered_thin(app, path, basic(secret), method)  # the epoch moved: Flask verifies again
            status, _headers, body = answer(app, path, basic(secret), method)
            assert status.startswith("401"), body


def test_downloads_are_counted_the_same_on_both_paths(published):
    app, wheel = published.app, published.files["1.0"]
    secret = published.token(scope="read")
    assert answer(app, url(wheel), basic(secret))[0] == "200 OK"  # Flask: verifies, caches, counts
    assert answered_thin(app, url(wheel), basic(secret))  # the thin path answered (and counted)
    for _ in range(3):
        assert answer(app, url(wheel), basic(secret))[0] == "200 OK"  # the thin path
    assert downloads(published, wheel) == 5
    # Not downloads, on either path: the metadata, a HEAD, a revalidation, a range.
    etag = dict(answer(app, url(wheel), basic(secret), "HEAD")[1])["ETag"]
    for path, headers, method in ((url(wheel, ".metadata"), {}, "GET"), (url(wheel), {}, "HEAD"),
                                  (url(wheel), {"If-None-Match": etag}, "GET"),
                                  (url(wheel), {"Range": "bytes=0-9"}, "GET")):
        same(app, path, {**basic(secret), **headers}, method)
    assert downloads(published, wheel) == 5


def test_a_download_past_the_quota_is_flasks_refusal_and_not_counted(published, monkeypatch):
    monkeypatch.setattr(quotas, "CACHE_SECONDS", 0.0)  # every download reads the flushed figures
    app, wheel = published.app, published.files["1.0"]
    secret = published.token(scope="read")
    with published.db.write() as session:
        quotas.set_limits(session, published.acme, quotas.Limits(download_bytes=2 * wheel.size), actor="tests")
    for _ in range(2):
        assert answer(app, url(wheel), basic(secret))[0] == "200 OK"
    assert downloads(published, wheel) == 2
    assert not answered_thin(app, url(wheel), basic(secret))  # quotas.check_download refuses: Flask answers
    got = answer(app, url(wheel), basic(secret))
    assert got == flask_answer(app, url(wheel), basic(secret)) and got[0].startswith("429 Download quota exceeded")
    assert downloads(published, wheel) == 2
    assert same(app, url(wheel, ".metadata"), basic(secret))[0] == "200 OK"  # resolvers still resolve
