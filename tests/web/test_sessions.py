from __future__ import annotations

import re

from sqlalchemy import select

from envelope.models import AuditEvent
from envelope.accounts.sessions import session_id_for
from tests.web.conftest import PASSWORD

REVOKE_FORM = re.compile(r'action="/account/sessions/([0-9a-f]{64})/revoke"')


def test_sessions_are_listed_with_the_current_one_marked(new_browser, alice):
    laptop = new_browser(environ_base={"HTTP_USER_AGENT": "Laptop Firefox", "REMOTE_ADDR": "10.0.0.1"})
    phone = new_browser(environ_base={"HTTP_USER_AGENT": "Phone Safari", "REMOTE_ADDR": "10.0.0.2"})
    laptop.login("alice")
    phone.login("alice")
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Laptop Firefox" in page and "Phone Safari" in page
    assert "10.0.0.1" in page and "10.0.0.2" in page
    assert page.count('<span class="badge badge-ok">this browser</span>') == 1
    assert re.search(r"Laptop Firefox <span class=\"badge badge-ok\">this browser", page)


def test_revoking_a_session_signs_that_browser_out(new_browser, db, alice):
    laptop = new_browser()
    phone = new_browser(environ_base={"HTTP_USER_AGENT": "Phone Safari"})
    laptop.login("alice")
    phone.login("alice", remember=True)
    stolen_session = phone.client.get_cookie("session").value
    stolen_remember = phone.client.get_cookie("remember_token").value

    (phone_id,) = REVOKE_FORM.findall(laptop.get("/account/sessions").get_data(as_text=True))
    response = laptop.submit(f"/account/sessions/{phone_id}/revoke", form_page="/account/sessions")
    assert response.status_code == 302

    assert not phone.is_signed_in()
    # The old cookies, replayed by someone else, no longer work either.
    thief = new_browser()
    thief.client.set_cookie("session", stolen_session)
    thief.client.set_cookie("remember_token", stolen_remember)
    assert not thief.is_signed_in()
    assert laptop.is_signed_in()
    with db.read() as session:
        assert "user.session_revoke" in session.scalars(select(AuditEvent.action)).all()


def test_revoke_all_other_sessions(new_browser, alice):
    browsers = [new_browser() for _ in range(3)]
    for b in browsers:
        b.login("alice")
    assert browsers[0].submit("/account/sessions/revoke-others", form_page="/account/sessions").status_code == 302
    assert [b.is_signed_in() for b in browsers] == [True, False, False]


def test_cannot_revoke_someone_elses_session(new_browser, make_user, alice):
    make_user("bob")
    alices, bobs = new_browser(), new_browser()
    alices.login("alice")
    bobs.login("bob")
    bob_id = session_id_for(_login_secret(bobs))
    response = alices.submit(f"/account/sessions/{bob_id}/revoke", form_page="/account/sessions")
    assert response.status_code == 302
    assert "No such session." in alices.get("/account/sessions").get_data(as_text=True)
    assert bobs.is_signed_in()


def _login_secret(browser) -> str:
    with browser.client.session_transaction() as flask_session:
        return flask_session["_user_id"]


def test_password_change_revokes_other_sessions(new_browser, alice, db):
    here, elsewhere = new_browser(), new_browser()
    here.login("alice")
    elsewhere.login("alice")
    wrong = here.submit(
        "/account/password", {"current": "not it", "password": "a new passphrase", "confirm": "a new passphrase"}
    )
    assert "Your current password is incorrect." in wrong.get_data(as_text=True)
    assert elsewhere.is_signed_in()

    response = here.submit(
        "/account/password", {"current": PASSWORD, "password": "a new passphrase", "confirm": "a new passphrase"}
    )
    assert response.status_code == 302
    assert here.is_signed_in() and not elsewhere.is_signed_in()
    assert new_browser().login("alice", "a new passphrase").status_code == 302
    with db.read() as session:
        assert "user.password_change" in session.scalars(select(AuditEvent.action)).all()
