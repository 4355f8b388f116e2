"""Organizations: who sees what, creation, members, the last owner, CSRF, audit."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from envelope.models import Membership, Role

# Flask-WTF signs its token with a timestamp: two requests a second apart differ there.
CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]*"')

ORG_PAGES = [
    "/acme/",
    "/acme/members",
    "/acme/tokens",
    "/acme/repositories",
    "/acme/audit",
    "/acme/proxy",
    "/acme/projects/demo/",
    "/acme/projects/demo/1.0/",
    "/acme/projects/demo/1.0/delete",
]


@pytest.mark.parametrize("url", ORG_PAGES)
def test_outsiders_get_404_exactly_like_a_missing_organization(world, url):
    world.wheel("demo", "1.0")
    outsider = world.browser("otto")
    hidden = outsider.get(url)
    missing = outsider.get(url.replace("/acme/", "/nosuchorg/"))
    assert hidden.status_code == missing.status_code == 404
    same = CSRF_VALUE.sub("", missing.get_data(as_text=True)).replace("nosuchorg", "X")
    assert CSRF_VALUE.sub("", hidden.get_data(as_text=True)).replace("acme", "X") == same


@pytest.mark.parametrize(
    "url",
    ["/acme/projects/demo/1.0/yank", "/acme/projects/demo/1.0/delete", "/acme/tokens", "/acme/invitations",
     "/acme/members/rita/role", "/acme/members/rita/remove", "/acme/leave", "/acme/repositories", "/acme/proxy"],
)
def test_outsiders_get_404_on_every_form_post(world, url):
    world.wheel("demo", "1.0")
    assert world.browser("otto").post(url, {"role": "owner", "confirm": "1.0", "name": "x"}).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(world):
    response = world.browser(None).get("/acme/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_create_organization_makes_the_creator_its_owner(world):
    nina = world.browser("nina")
    response = nina.post("/orgs/new", {"name": "newco"})
    assert response.status_code == 302 and response.headers["Location"] == "/newco/"
    page = nina.get("/newco/").get_data(as_text=True)
    assert "owner" in page and "No projects yet" in page


@pytest.mark.parametrize(("name", "message"), [("Bad Name", "Invalid organization name"),
                                               ("api", "reserved"), ("acme", "already exists")])
def test_create_organization_refuses_bad_names(world, name, message):
    response = world.browser("nina").post("/orgs/new", {"name": name})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_form_post_without_csrf_token_is_refused(world):
    response = world.browser("nina").post("/orgs/new", {"name": "newco"}, csrf=False)
    assert response.status_code == 400
    assert world.browser("nina").get("/newco/").status_code == 404


def test_dashboard_lists_projects_with_latest_version_and_searches(world):
    world.wheel("billing-core", "1.0")
    world.wheel("billing-core", "2.0")
    world.wheel("billing-core", "3.0rc1")
    world.wheel("reports", "0.1")
    reader = world.browser("rita")
    page = reader.get("/acme/").get_data(as_text=True)
    assert "billing-core" in page and "reports" in page
    assert "<td>2.0</td>" in page  # the newest final release, not the pre-release
    found = reader.get("/acme/?q=Billing_Core").get_data(as_text=True)
    assert "billing-core" in found and "reports" not in found
    assert "No project matches" in reader.get("/acme/?q=zzz").get_data(as_text=True)


def test_reader_sees_no_owner_forms_on_members_page(world):
    page = world.browser("rita").get("/acme/members").get_data(as_text=True)
    assert "olivia" in page and "max" in page
    assert "Change role" not in page and "Send invitation" not in page
    assert "Leave acme" in page


def test_member_without_the_role_gets_403_with_a_clear_message(world):
    response = world.browser("max").post("/acme/members/rita/role", {"role": "owner"})
    assert response.status_code == 403
    assert "Only owners of acme can change roles; your role is maintainer." in response.get_data(as_text=True)


def test_owner_changes_roles_and_removes_members(world):
    owner = world.browser("olivia")
    assert owner.post("/acme/members/rita/role", {"role": "maintainer"}).status_code == 302
    assert owner.post("/acme/members/max/remove").status_code == 302
    with world.db.read() as session:
        roles = {m.user.username: m.role for m in session.scalars(
            select(Membership).where(Membership.organization_id == world.acme.id))}
    assert roles == {"olivia": Role.owner, "rita": Role.maintainer}
    assert world.browser("max").get("/acme/").status_code == 404


def test_an_organization_always_keeps_an_owner(world):
    owner = world.browser("olivia")
    demote = owner.post("/acme/members/olivia/role", {"role": "maintainer"})
    assert demote.status_code == 409
    assert "must keep at least one owner" in demote.get_data(as_text=True)
    assert owner.post("/acme/leave").status_code == 409
    # With a second owner, the first may step down and then leave.
    assert owner.post("/acme/members/max/role", {"role": "owner"}).status_code == 302
    assert owner.post("/acme/members/olivia/role", {"role": "reader"}).status_code == 302
    assert owner.post("/acme/leave").status_code == 302
    assert owner.get("/acme/").status_code == 404
    # max is now the only owner, and cannot remove himself either.
    assert world.browser("max").post("/acme/members/max/remove").status_code == 409


def test_leaving_revokes_the_members_tokens(world):
    secret = world.token(user=world.users["rita"])
    assert world.app.test_client().get("/acme/simple/", headers=_basic(secret)).status_code == 200
    assert world.browser("rita").post("/acme/leave").status_code == 302
    response = world.app.test_client().get("/acme/simple/", headers=_basic(secret))
    assert response.status_code == 401 and "revoked" in response.get_data(as_text=True)


def test_audit_log_shows_changes_newest_first_with_actor(world):
    owner = world.browser("olivia")
    owner.post("/acme/members/rita/role", {"role": "maintainer"})
    world.wheel("demo", "1.0")
    owner.post("/acme/projects/demo/1.0/yank", {"reason": "broken"})
    page = owner.get("/acme/audit").get_data(as_text=True)
    page = page[page.index('<table class="audit">'):]  # the rows, not the filter's choices
    yank, role = page.index("file.yank"), page.index("member.role")
    assert yank < role  # newest first
    assert "user olivia" in page and "broken" in page
    assert world.browser("otto").get("/acme/audit").status_code == 404


def test_audit_log_is_paginated(world):
    from envelope.audit import record_event

    with world.db.write() as session:
        for n in range(60):
            record_event(session, world.acme.id, "tests", "test.event", f"event {n}")
    owner = world.browser("olivia")
    first = owner.get("/acme/audit").get_data(as_text=True)
    assert "event 59" in first and 'rel="next"' in first and "event 0<" not in first
    second = owner.get("/acme/audit?page=2").get_data(as_text=True)
    assert "event 0<" in second and 'rel="prev"' in second
    assert owner.get("/acme/audit?page=99999999999999999999").status_code == 200


def _basic(secret):
    from tests.webui.conftest import basic

    return basic(secret)


def _ownerless(world, name: str = "lonely"):
    from envelope.accounts.users import set_admin
    from envelope.orgs.organizations import create_organization

    with world.db.write() as session:
        create_organization(session, name, actor="cli root")  # `envelope org create lonely`, no --owner
        set_admin(session, session.merge(world.users["nina"]), True, actor="tests")


def test_an_administrator_claims_an_organization_created_without_owner(world):
    _ownerless(world)
    admin = world.browser("nina")
    assert admin.get("/lonely/").status_code == 404  # not a member: unreachable until claimed
    settings = admin.get("/admin/settings").get_data(as_text=True)
    assert "Organizations without an owner" in settings and "Become owner of lonely" in settings
    assert "Become owner of acme" not in settings

    response = admin.post("/admin/orgs/lonely/claim")
    assert response.status_code == 302 and response.headers["Location"] == "/lonely/"
    assert admin.get("/lonely/").status_code == 200
    assert "Become owner of lonely" not in admin.get("/admin/settings").get_data(as_text=True)
    with world.db.read() as session:
        roles = session.execute(select(Membership.user_id, Membership.role)).all()
    assert (world.users["nina"].id, Role.owner) in roles
    audit = admin.get("/lonely/audit").get_data(as_text=True)
    assert "org.claim" in audit


def test_only_an_administrator_claims_and_only_an_organization_without_owner(world):
    _ownerless(world)
    refused = world.browser("olivia").post("/admin/orgs/lonely/claim")  # an owner elsewhere, not an admin
    assert refused.status_code == 403
    assert "Only administrators" in refused.get_data(as_text=True)

    admin = world.browser("nina")
    taken = admin.post("/admin/orgs/acme/claim", follow_redirects=True)
    assert "acme already has an owner; ask them to add you." in taken.get_data(as_text=True)
    assert admin.get("/acme/").status_code == 404
    missing = admin.post("/admin/orgs/nosuch/claim", follow_redirects=True)
    assert "No organization named &#39;nosuch&#39;" in missing.get_data(as_text=True)
    assert admin.post("/admin/orgs/lonely/claim", csrf=False).status_code == 400
    with world.db.read() as session:
        assert session.scalar(select(Membership.id).where(Membership.user_id == world.users["nina"].id)) is None
