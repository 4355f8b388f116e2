"""Download counts where decisions are made: the release page, the yank and
delete warnings, the JSON API; names of credentials for owners only."""
from __future__ import annotations

from envelope import usage
from tests.webui.conftest import basic


def _download(world, token: str, filename: str, sha256: str, **headers) -> int:
    client = world.app.test_client()
    return client.get(f"/acme/files/{sha256}/{filename}", headers={**basic(token), **headers}).status_code


def test_downloads_are_counted_per_file_and_token_and_shown_to_those_who_decide(world):
    wheel = world.wheel("demo", "1.0")
    world.wheel("demo", "2.0")
    ci = world.token(scope="read", name="ci")
    laptop = world.token(scope="read", name="laptop")
    for _ in range(3):
        assert _download(world, ci, wheel.filename, wheel.sha256) == 200
    assert _download(world, laptop, wheel.filename, wheel.sha256) == 200
    # Not downloads: a HEAD, a range (uv reading metadata), a conditional hit, the .metadata file.
    client = world.app.test_client()
    url = f"/acme/files/{wheel.sha256}/{wheel.filename}"
    assert client.head(url, headers=basic(ci)).status_code == 200
    assert _download(world, ci, wheel.filename, wheel.sha256, Range="bytes=0-99") == 206
    assert _download(world, ci, wheel.filename, wheel.sha256, **{"If-None-Match": f'"{wheel.sha256}"'}) in (200, 304)
    assert client.get(url + ".metadata", headers=basic(ci)).status_code == 200
    usage.tally_for(world.db).flush()

    owner = world.browser("olivia").get("/acme/projects/demo/1.0/manage").get_data(as_text=True)
    assert "2 credentials downloaded 1.0 in the last 30 days</strong> (4 downloads)" in owner
    assert "token ci (#" in owner and "): 3 downloads, last on " in owner and "token laptop (#" in owner
    maintainer = world.browser("max").get("/acme/projects/demo/1.0/manage").get_data(as_text=True)
    assert "2 credentials downloaded 1.0" in maintainer and "token ci" not in maintainer
    assert "a credential: 3 downloads" in maintainer
    reader = world.browser("rita").get("/acme/projects/demo/1.0/").get_data(as_text=True)
    assert "credentials downloaded" not in reader  # not someone who yanks
    assert "4 downloads in 30 days" in reader and "0 downloads in 30 days" in reader  # history: 1.0 and 2.0
    assert '<td class="nowrap downloads">4 downloads</td>' in reader  # the files table
    quiet = world.browser("olivia").get("/acme/projects/demo/2.0/manage").get_data(as_text=True)
    assert "Nobody downloaded 2.0 in the last 30 days." in quiet
    delete_page = world.browser("olivia").get("/acme/projects/demo/1.0/delete").get_data(as_text=True)
    assert "2 credentials downloaded 1.0 in the last 30 days" in delete_page and "token ci (#" in delete_page

    api = world.browser("olivia").api("GET", "/api/v1/orgs/acme/projects/demo/releases/1.0").get_json()
    assert api["downloads_30d"] == 4 and [f["downloads_30d"] for f in api["files"]] == [4]
    assert [(d["credential"].split(" (#")[0], d["downloads"]) for d in api["downloaders_30d"]] == [
        ("token ci", 3), ("token laptop", 1)]
    listed = world.browser("rita").api("GET", "/api/v1/orgs/acme/projects/demo").get_json()
    assert {r["version"]: r["downloads_30d"] for r in listed["releases"]} == {"1.0": 4, "2.0": 0}
    assert world.browser("rita").api("GET", "/api/v1/orgs/acme/projects/demo/releases/1.0").get_json()[
        "downloaders_30d"] is None


def test_a_file_deleted_before_its_count_is_written_does_not_stop_the_others(world):
    wheel = world.wheel("demo", "1.0")
    token = world.token(scope="read")
    assert _download(world, token, wheel.filename, wheel.sha256) == 200
    owner = world.browser("olivia")
    assert owner.post("/acme/projects/demo/1.0/delete", {"confirm": "1.0"}).status_code == 302
    usage.tally_for(world.db).flush()  # the file is gone: its count is dropped, the flush does not fail
    other = world.wheel("demo", "2.0")
    assert _download(world, token, other.filename, other.sha256) == 200
    usage.tally_for(world.db).flush()
    with world.db.read() as session:
        assert usage.file_downloads(session, [other.id]) == {other.id: 1}
