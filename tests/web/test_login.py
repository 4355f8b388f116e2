from __future__ import annotations

import pytest

from envelope.accounts.users import LOGIN_FAILED
from envelope.models import Membership, Organization, Role
from tests.web.conftest import PASSWORD


def test_login_with_username_or_email_and_logout(browser, new_browser, alice):
    assert browser.login("alice").headers["Location"] == "/"
    assert browser.is_signed_in()
    page = browser.get("/").get_data(as_text=True)
    assert "alice" in page and 'action="/logout"' in page

    other = new_browser()
    assert other.login("ALICE@example.com").status_code == 302
    assert other.is_signed_in()

    assert browser.logout().status_code == 302
    assert not browser.is_signed_in()
    assert other.is_signed_in()


def test_login_failure_says_the_same_for_unknown_user_and_wrong_password(browser, alice):
    wrong = browser.login("alice", "wrong password")
    unknown = browser.login("nobody", "wrong password")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert LOGIN_FAILED in response.get_data(as_text=True)
    assert not browser.is_signed_in()


def test_remember_me_cookie_only_when_asked(browser, new_browser, alice):
    plain = browser.login("alice")
    assert not any(c.startswith("remember_token=") for c in plain.headers.getlist("Set-Cookie"))

    remembered = new_browser().login("alice", remember=True)
    cookie = next(c for c in remembered.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_remember_cookie_alone_restores_the_session(new_browser, alice):
    browser = new_browser()
    browser.login("alice", remember=True)
    browser.client.delete_cookie("session")  # the browser was closed
    assert browser.is_signed_in()


def test_login_required_pages_redirect_with_next(browser, alice):
    response = browser.get("/account/sessions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Faccount%2Fsessions"
    assert browser.login("alice", next="/account/sessions").headers["Location"] == "/account/sessions"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example/x", "/\\evil.example", "https:/evil.example", "javascript:alert(1)",
     "/\r\nLocation: https://evil.example", "/\t/evil.example", " /account"],
)
def test_login_ignores_off_site_next(browser, alice, target):
    from urllib.parse import quote

    response = browser.login("alice", next=quote(target, safe=""))
    assert response.headers["Location"] == "/"


def test_landing_page_lists_the_users_organizations(browser, db, alice):
    with db.write() as session:
        org = Organization(name="acme")
        session.add(org)
        session.flush()
        session.add(Membership(organization_id=org.id, user_id=alice.id, role=Role.maintainer))
    assert "Sign in" in browser.get("/").get_data(as_text=True)
    browser.login("alice")
    page = browser.get("/").get_data(as_text=True)
    assert 'href="/acme/"' in page and "maintainer" in page


def test_disabled_user_cannot_sign_in(browser, db, make_user):
    user = make_user("eve")
    with db.write() as session:
        session.get(type(user), user.id).is_active = False
    assert LOGIN_FAILED in browser.login("eve", PASSWORD).get_data(as_text=True)
