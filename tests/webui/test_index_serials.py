"""What a restricted token learns from `_last-serial` and ETags: only what it
may see. Another project's creation or a hidden version's publication must
not move them (a token watching them would learn of activity it may not
see); a change to what it sees must."""
from __future__ import annotations

from envelope.orgs.membership import operator_access
from envelope.packaging.releases import change_yank
from tests.webui.conftest import SIMPLE_JSON, basic


def look(world, secret: str, path: str) -> tuple[int, tuple[str, str], dict]:
    """(_last-serial, ETags of the JSON and HTML pages, JSON page) of an
    index page, as this token sees it."""
    response = world.app.test_client().get(path, headers={**basic(secret), "Accept": SIMPLE_JSON})
    assert response.status_code == 200, response.get_data(as_text=True)
    html = world.app.test_client().get(path, headers=basic(secret))
    return response.get_json()["meta"]["_last-serial"], (response.headers["ETag"], html.headers["ETag"]), (
        response.get_json()
    )


def moved(after, before) -> bool:
    """Whether the serial and both ETags changed."""
    return after[0] != before[0] and all(a != b for a, b in zip(after[1], before[1]))


def test_project_list_moves_only_with_the_projects_a_restricted_token_sees(world):
    world.wheel("billing", "1.0")
    restricted = world.token(projects=["billing<2", "ledger"])
    everything = world.token()
    before, full_before = look(world, restricted, "/acme/simple/"), look(world, everything, "/acme/simple/")

    world.wheel("secret-project", "1.0")  # a project the token may not see
    world.wheel("billing", "2.0")  # a version it may not see
    after = look(world, restricted, "/acme/simple/")
    assert after[:2] == before[:2]
    assert [p["name"] for p in after[2]["projects"]] == ["billing"]
    unchanged = world.app.test_client().get(
        "/acme/simple/", headers={**basic(restricted), "Accept": SIMPLE_JSON, "If-None-Match": before[1][0]}
    )
    assert unchanged.status_code == 304
    full_after = look(world, everything, "/acme/simple/")
    assert moved(full_after, full_before)

    world.wheel("ledger", "0.1")  # a project it may see appears
    seen = look(world, restricted, "/acme/simple/")
    assert moved(seen, after)
    assert [p["name"] for p in seen[2]["projects"]] == ["billing", "ledger"]


def test_project_page_moves_only_with_the_versions_a_restricted_token_sees(world):
    world.wheel("billing", "1.0")
    restricted = world.token(projects=["billing<2"])
    everything = world.token()
    path = "/acme/simple/billing/"
    before, full_before = look(world, restricted, path), look(world, everything, path)

    world.wheel("secret-project", "1.0")
    world.wheel("billing", "2.0")  # hidden from the token
    after = look(world, restricted, path)
    assert after[:2] == before[:2] and after[2]["versions"] == ["1.0"]
    full_after = look(world, everything, path)
    assert moved(full_after, full_before)

    world.wheel("billing", "1.5")  # visible to the token
    published = look(world, restricted, path)
    assert moved(published, after) and published[0] > after[0]
    assert published[2]["versions"] == ["1.0", "1.5"]

    with world.db.write() as session:  # a yank changes what it sees, too
        change_yank(session, operator_access(world.acme, "tests"), "billing", "1.0", yanked=True)
    yanked = look(world, restricted, path)
    assert all(a != b for a, b in zip(yanked[1], published[1])) and yanked[2]["files"][0]["yanked"] is True


def test_a_token_restricted_to_whole_projects_keeps_the_project_serial(world):
    world.wheel("billing", "1.0")
    world.wheel("billing", "2.0")
    restricted = world.token(projects=["billing"])
    everything = world.token()
    assert look(world, restricted, "/acme/simple/billing/")[0] == look(world, everything, "/acme/simple/billing/")[0]
