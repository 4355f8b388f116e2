from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD


@pytest.mark.parametrize(
    ("path", "form_page"),
    [("/login", "/login"), ("/signup", "/signup"), ("/logout", "/"), ("/reset-password", "/reset-password"),
     ("/account/password", "/account/password"), ("/account/sessions/revoke-others", "/account/sessions")],
)
def test_post_without_csrf_token_is_refused(browser, new_browser, alice, path, form_page):
    browser.login("alice")
    browser.get(form_page)
    response = browser.client.post(path, data={"login": "alice", "password": PASSWORD, "current": PASSWORD})
    assert response.status_code == 400
    assert "could not be accepted" in response.get_data(as_text=True)
    assert browser.is_signed_in()


def test_csrf_token_from_another_session_is_refused(new_browser, alice):
    token = new_browser().csrf_token("/login")
    victim = new_browser()
    victim.get("/login")
    response = victim.client.post("/login", data={"csrf_token": token, "login": "alice", "password": PASSWORD})
    assert response.status_code == 400


def test_login_rate_limit_per_ip(browser, alice):
    for _ in range(10):
        assert browser.login("alice", "wrong password").status_code == 200
    limited = browser.login("alice", PASSWORD)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "Too many attempts" in limited.get_data(as_text=True)


def test_login_rate_limit_per_username(new_browser, alice):
    for n in range(10):
        assert new_browser(environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).login("alice", "wrong").status_code == 200
    assert new_browser(environ_base={"REMOTE_ADDR": "10.0.1.1"}).login("ALICE", PASSWORD).status_code == 429
    assert new_browser(environ_base={"REMOTE_ADDR": "10.0.1.2"}).login("bob", PASSWORD).status_code == 200


def test_reset_request_rate_limit(browser):
    for _ in range(5):
        assert browser.submit("/reset-password", {"email": "someone@example.com"}).status_code == 200
    assert browser.submit("/reset-password", {"email": "someone@example.com"}).status_code == 429


def test_second_factor_rate_limit(browser, alice, db):
    from envelope.models import User

    with db.write() as session:
        session.get(User, alice.id).totp_enabled = True
    browser.login("alice")
    for _ in range(10):
        assert browser.submit("/login/2fa", {"code": "123456"}).status_code == 200
    assert browser.submit("/login/2fa", {"code": "123456"}).status_code == 429


def test_cookies_are_httponly_and_samesite_lax(browser, alice):
    response = browser.login("alice", remember=True)
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) >= {"session", "remember_token"}
    for cookie in cookies.values():
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_cookies_are_secure_behind_https(make_settings, db, alice):
    from web import create_app

    app = create_app(make_settings(ENVELOPE_BASE_URL="https://pypi.example.com"))
    response = app.test_client().get("/login", base_url="https://localhost")
    (cookie,) = response.headers.getlist("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_admin_settings_are_for_admins_only(browser, new_browser, alice, make_user):
    browser.login("alice")
    assert browser.get("/admin/settings").status_code == 403
    make_user("root", is_admin=True)
    admin = new_browser()
    admin.login("root")
    assert 'checked id="signup_open"' in admin.get("/admin/settings").get_data(as_text=True)
    assert admin.submit("/admin/settings", {}).status_code == 302  # the box unticked: closed
    assert 'checked id="signup_open"' not in admin.get("/admin/settings").get_data(as_text=True)
    assert browser.get("/signup").status_code == 302  # signed in: sent on
    assert new_browser().get("/signup").status_code == 403
    admin.submit("/admin/settings", {"signup_open": "y"})
    assert new_browser().get("/signup").status_code == 200


def test_pages_forbid_framing(browser):
    response = browser.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/account", "/account"), ("/acme/?q=x", "/acme/?q=x"), ("https://evil.example", None), ("//evil", None),
     ("/\\evil", None), ("javascript:x", None), ("", None), (None, None), ("/a\nb", None), ("/a b", None)],
)
def test_safe_next(target, expected):
    from web.pages.accounts import safe_next

    assert safe_next(target) == expected
