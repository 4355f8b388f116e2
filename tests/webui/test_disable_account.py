"""Disabling an account (`envelope user set-active USERNAME --off`, issue 9 item 4).

A disabled user's browser sessions are revoked (not merely refused while the
account is off: enabling it again does not bring them back), their tokens
get 401, and the last active administrator cannot be disabled.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from envelope.accounts.users import get_user, set_active, set_admin
from envelope.errors import Conflict
from envelope.models import AuditEvent, User, UserSession
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token
from tests.webui.conftest import basic


def _set_active(world, username: str, active: bool) -> None:
    with world.db.write() as session:
        set_active(session, get_user(session, username), active, actor="cli root")


def test_a_disabled_users_browser_sessions_and_tokens_stop_working(world):
    browser = world.browser("max")
    assert browser.get("/acme/").status_code == 200
    with world.db.write() as session:
        secret = create_token(session, operator_access(world.acme, "tests"), name="max's",
                              user=session.merge(world.users["max"])).secret
    assert world.app.test_client().get("/acme/simple/", headers=basic(secret)).status_code == 200

    _set_active(world, "max", False)
    response = browser.get("/acme/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert world.app.test_client().get("/acme/simple/", headers=basic(secret)).status_code == 401
    with world.db.read() as session:
        rows = session.scalars(select(UserSession).where(UserSession.user_id == world.users["max"].id)).all()
        assert rows and all(row.revoked is not None for row in rows)
        events = session.scalars(select(AuditEvent).where(AuditEvent.subject == "max")).all()
        assert [e.action for e in events if e.action.startswith("user.d")] == ["user.disable"]

    _set_active(world, "max", True)
    # Enabled again: the token works, the revoked browser session stays signed out.
    assert world.app.test_client().get("/acme/simple/", headers=basic(secret)).status_code == 200
    response = browser.get("/acme/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert world.browser("max").get("/acme/").status_code == 200  # a new sign-in works


def test_the_last_active_administrator_cannot_be_disabled(world):
    with world.db.write() as session:
        set_admin(session, session.merge(world.users["nina"]), True, actor="tests")
    with pytest.raises(Conflict, match="nina is the only active administrator"):
        _set_active(world, "nina", False)
    with world.db.read() as session:
        assert session.scalar(select(User.is_active).where(User.username == "nina")) is True
    assert world.browser("nina").get("/admin/settings").status_code == 200

    with world.db.write() as session:
        set_admin(session, session.merge(world.users["olivia"]), True, actor="tests")
    _set_active(world, "nina", False)  # another administrator remains
    with world.db.read() as session:
        assert session.scalar(select(User.is_active).where(User.username == "nina")) is False
    with pytest.raises(Conflict, match="olivia is the only active administrator"):
        _set_active(world, "olivia", False)
