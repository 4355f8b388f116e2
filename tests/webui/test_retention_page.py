"""The retention page: members see the policies and what would go; owners set
and remove them (CSRF-protected forms); bad input changes nothing."""
from __future__ import annotations

import html

from sqlalchemy import select

from envelope.models import AuditEvent, RetentionPolicy


def _policies(world) -> list[tuple[int | None, int | None, int | None, bool]]:
    with world.db.read() as session:
        return [(p.project_id, p.keep_prereleases, p.max_age_days, p.include_downloaded)
                for p in session.scalars(select(RetentionPolicy).order_by(RetentionPolicy.id))]


def test_owner_sets_a_policy_and_sees_the_dry_run(world):
    for version in ["1.0", "1.1a1", "1.1a2", "1.1a3"]:
        world.wheel("demo", version)
    owner = world.browser("olivia")
    saved = owner.post("/acme/retention", {"project": "", "keep_prereleases": "1", "max_age": ""})
    assert saved.status_code == 302
    assert _policies(world) == [(None, 1, None, False)]
    page = " ".join(html.unescape(owner.get("/acme/retention").get_data(as_text=True)).split())
    assert "2 releases would be deleted by the next run" in page
    assert "pre-release beyond the newest 1" in page and "acme (organization)" in page
    owner.post("/acme/retention", {"project": "demo", "keep_prereleases": "5", "max_age": "26w",
                                   "include_downloaded": "on"})
    assert _policies(world)[1][1:] == (5, 182, True)
    page = owner.get("/acme/retention").get_data(as_text=True)
    assert "Nothing: no release matches a policy." in page  # demo's own policy keeps five
    assert owner.post("/acme/retention/clear", {"project": "demo"}).status_code == 302
    assert _policies(world) == [(None, 1, None, False)]
    with world.db.read() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("retention."))))
    assert actions == ["retention.set", "retention.set", "retention.clear"]


def test_bad_input_is_refused_and_changes_nothing(world):
    owner = world.browser("olivia")
    for form, message in [
        ({"keep_prereleases": "many"}, "is a whole number"),
        ({"max_age": "ten days"}, "An age is a number of days"),
        ({"keep_prereleases": "", "max_age": ""}, "needs a number of pre-releases to keep"),
        ({"project": "nope", "keep_prereleases": "1"}, "No project"),
    ]:
        refused = owner.post("/acme/retention", form)
        assert refused.status_code == 400
        assert message in html.unescape(refused.get_data(as_text=True))
    assert _policies(world) == []
    assert owner.post("/acme/retention", {"keep_prereleases": "1"}, csrf=False).status_code == 400
    assert _policies(world) == []


def test_maintainers_and_readers_see_but_cannot_change_and_outsiders_get_404(world):
    world.browser("olivia").post("/acme/retention", {"keep_prereleases": "3"})
    for name in ("max", "rita"):
        member = world.browser(name)
        page = member.get("/acme/retention").get_data(as_text=True)
        assert "Only owners change retention policies." in page and 'name="keep_prereleases"' not in page
        assert member.post("/acme/retention", {"keep_prereleases": "0"}).status_code == 403
        assert member.post("/acme/retention/clear", {"project": ""}).status_code == 403
    assert _policies(world) == [(None, 3, None, False)]
    assert world.browser("otto").get("/acme/retention").status_code == 404
