from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from envelope.models import AuditEvent, RecoveryCode, User
from tests.web.conftest import PASSWORD

SECRET = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
CODE = re.compile(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>")


def _enrol(browser) -> tuple[pyotp.TOTP, list[str]]:
    """Turn on two-factor authentication; returns the app's TOTP and the recovery codes."""
    assert browser.submit("/account/2fa/setup", form_page="/account/2fa").status_code == 302
    page = browser.get("/account/2fa").get_data(as_text=True)
    assert "<svg" in page and 'role="img"' in page
    totp = pyotp.TOTP(SECRET.search(page).group(1).replace(" ", ""))
    response = browser.submit("/account/2fa/confirm", {"code": totp.now()}, form_page="/account/2fa")
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = CODE.findall(response.get_data(as_text=True))
    assert len(codes) == 10 and response.headers["Cache-Control"] == "no-store"
    return totp, codes


def _next_step_code(totp: pyotp.TOTP) -> str:
    # Enrolment used the current time step; a step is never accepted twice,
    # and one step ahead is within the accepted window.
    return totp.at(time.time() + totp.interval)


@pytest.fixture
def enrolled(browser, alice):
    browser.login("alice")
    totp, codes = _enrol(browser)
    browser.logout()
    return totp, codes


def test_enrolment_stores_the_secret_sealed_and_codes_hashed(browser, alice, db):
    browser.login("alice")
    totp, codes = _enrol(browser)
    with db.read() as session:
        user = session.get(User, alice.id)
        assert user.totp_enabled and totp.secret not in user.totp_secret_sealed
        hashes = session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(hashes) == 10 and not set(codes) & set(hashes)
        assert "user.2fa_enable" in session.scalars(select(AuditEvent.action)).all()
    assert "on" in browser.get("/account/2fa").get_data(as_text=True)


def test_wrong_confirmation_code_keeps_2fa_off(browser, alice, db):
    browser.login("alice")
    browser.submit("/account/2fa/setup", form_page="/account/2fa")
    response = browser.submit("/account/2fa/confirm", {"code": "000000"}, form_page="/account/2fa")
    assert response.status_code == 400 and "does not match" in response.get_data(as_text=True)
    with db.read() as session:
        assert not session.get(User, alice.id).totp_enabled


def test_login_asks_for_a_code_and_refuses_a_replayed_one(browser, new_browser, enrolled):
    totp, _ = enrolled
    first = browser.login("alice", next="/account/sessions")
    assert first.headers["Location"] == "/login/2fa"
    assert not browser.is_signed_in()  # the password alone is not enough

    code = _next_step_code(totp)
    response = browser.submit("/login/2fa", {"code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/account/sessions"
    assert browser.is_signed_in()

    attacker = new_browser()
    attacker.login("alice")
    replay = attacker.submit("/login/2fa", {"code": code})
    assert replay.status_code == 200 and "already used" in replay.get_data(as_text=True)
    assert not attacker.is_signed_in()


def test_recovery_code_works_once(new_browser, enrolled):
    _, codes = enrolled
    first = new_browser()
    first.login("alice")
    response = first.submit("/login/2fa", {"code": codes[0].upper()}, follow_redirects=True)
    assert "9 remain" in response.get_data(as_text=True)
    assert first.is_signed_in()

    second = new_browser()
    second.login("alice")
    again = second.submit("/login/2fa", {"code": codes[0]})
    assert "not valid" in again.get_data(as_text=True)
    assert not second.is_signed_in()


def test_pending_login_expires_after_five_minutes(browser, enrolled, monkeypatch):
    totp, _ = enrolled
    browser.login("alice")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 5 * 60 + 1)
    response = browser.submit("/login/2fa", {"code": _next_step_code(totp)}, form_page="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not browser.is_signed_in()


def test_2fa_step_without_a_password_goes_back_to_login(browser):
    assert browser.get("/login/2fa").headers["Location"] == "/login"


def test_disable_needs_the_password(browser, enrolled, db, alice):
    totp, codes = enrolled
    browser.login("alice")
    browser.submit("/login/2fa", {"code": codes[1]})
    wrong = browser.submit("/account/2fa/disable", {"password": "nope"}, form_page="/account/2fa", prefix="disable-")
    assert wrong.status_code == 400 and "incorrect" in wrong.get_data(as_text=True)
    ok = browser.submit("/account/2fa/disable", {"password": PASSWORD}, form_page="/account/2fa", prefix="disable-")
    assert ok.status_code == 302
    with db.read() as session:
        user = session.get(User, alice.id)
        assert not user.totp_enabled and user.totp_secret_sealed is None
        assert session.scalars(select(RecoveryCode)).all() == []
        assert "user.2fa_disable" in session.scalars(select(AuditEvent.action)).all()
    browser.logout()
    assert browser.login("alice").headers["Location"] == "/"


def test_new_recovery_codes_replace_the_old(browser, new_browser, enrolled):
    _, old_codes = enrolled
    browser.login("alice")
    browser.submit("/login/2fa", {"code": old_codes[0]})
    response = browser.submit(
        "/account/2fa/recovery-codes", {"password": PASSWORD}, form_page="/account/2fa", prefix="codes-"
    )
    new_codes = CODE.findall(response.get_data(as_text=True))
    assert len(new_codes) == 10
    other = new_browser()
    other.login("alice")
    assert "not valid" in other.submit("/login/2fa", {"code": old_codes[1]}).get_data(as_text=True)
    assert other.submit("/login/2fa", {"code": new_codes[0]}).status_code == 302
