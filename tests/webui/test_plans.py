"""Plans map to quotas: organizations on a plan follow its limits (a change to
the plan reaches them all, the download check included), limits of their own
take them off it; `envelope plan set/list` and `envelope org plan` drive it
from the real console script on the same data dir."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from envelope import plans, quotas
from envelope.errors import InvalidInput, NotFound
from envelope.models import User
from tests.webui.conftest import basic
from tests.webui.test_cli_parity import cli_error, envelope


def test_organizations_follow_their_plan_until_given_limits_of_their_own(world):
    with world.db.write() as session:
        plans.define_plan(session, "team", quotas.Limits(storage_bytes=10**10, download_bytes=0, members=20))
        plans.assign_plan(session, world.acme, "team", actor="tests")
    wheel = world.wheel("demo", "1.0")
    token = world.token(scope="read")
    url = f"/acme/files/{wheel.sha256}/{wheel.filename}"
    client = world.app.test_client()
    assert client.get(url, headers=basic(token)).status_code == 429  # the plan allows no downloads

    with world.db.write() as session:  # the plan changes: acme follows at once in this process
        plans.define_plan(session, "team", quotas.Limits(storage_bytes=10**10, download_bytes=10**9, members=20))
    assert client.get(url, headers=basic(token)).status_code == 200
    api = world.browser("rita").api("GET", "/api/v1/orgs/acme/usage").get_json()
    assert api["plan"] == "team" and api["limits"]["download_bytes_per_month"] == 10**9
    assert "on the <strong>team</strong> plan" in world.browser("rita").get("/acme/usage").get_data(as_text=True)
    with world.db.write() as session:
        session.execute(update(User).where(User.username == "nina").values(is_admin=True))
    admin_page = " ".join(world.browser("nina").get("/admin/settings").get_data(as_text=True).split())
    assert "<strong>acme</strong> · plan team: storage 10 GB" in admin_page
    assert "Saving gives acme limits of its own, off the team plan." in admin_page

    with world.db.write() as session:
        quotas.set_limits(session, world.acme, quotas.Limits(members=5), actor="tests")
        assert plans.plan_of(session, world.acme.id) is None
        assert quotas.get_limits(session, world.acme.id) == quotas.Limits(members=5)
        assert [(p.name, n) for p, n in plans.list_plans(session)] == [("team", 0)]
        with pytest.raises(InvalidInput, match="is not a plan name"):
            plans.define_plan(session, "Team Plan", quotas.Limits())
        with pytest.raises(NotFound, match=r"No plan named 'gold' \(plans: team\)"):
            plans.assign_plan(session, world.acme, "gold", actor="tests")


def test_plans_from_the_console_script(world):
    out = envelope(world, "plan", "set", "team", "--storage", "10GB", "--downloads", "100GB", "--members", "20").stdout
    assert out.strip() == "Plan team: storage 10 GB, downloads 100 GB a month, members 20; 0 organizations on it."
    out = envelope(world, "org", "plan", "acme", "team").stdout
    assert out.strip() == "acme is on plan team: storage 10 GB, downloads 100 GB a month, members 20."
    assert envelope(world, "org", "quota", "acme").stdout.startswith("Plan: team.\n")
    listed = json.loads(envelope(world, "plan", "list", "--json").stdout)
    assert listed == [{"name": "team", "organizations": 1, "stripe_price": None, "default": False, "limits": {
        "storage_bytes": 10**10, "download_bytes_per_month": 10**11, "members": 20}}]
    assert cli_error(envelope(world, "org", "plan", "acme", "gold", ok=False)) == (
        "No plan named 'gold' (plans: team); define it with `envelope plan set gold …`.")
    assert cli_error(envelope(world, "plan", "set", "team", "--members", "many", ok=False)) == (
        "'many' is not a number of members: give a whole number, or 'none' for no limit.")
    assert envelope(world, "org", "plan", "acme", "none").stdout.strip() == "acme is on no plan and has no limits."
    with world.db.read() as session:
        assert quotas.get_limits(session, world.acme.id) == quotas.Limits()
