from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from envelope.models import AuditEvent, OneTimeToken
from envelope.models.base import utcnow
from tests.web.conftest import link_in

NEW = "an entirely new passphrase"


def _request_reset(browser, email: str):
    return browser.submit("/reset-password", {"email": email})


def test_reset_flow_end_to_end(browser, new_browser, alice, mailbox, db):
    signed_in = new_browser()
    signed_in.login("alice")
    assert _request_reset(browser, "Alice@Example.com").status_code == 200
    (message,) = mailbox()
    assert message["To"] == "alice@example.com" and "Reset" in message["Subject"]
    link = link_in(message)
    assert link.startswith("/reset-password/")

    form = browser.get(link)
    assert form.status_code == 200 and "alice" in form.get_data(as_text=True)
    assert form.headers["Referrer-Policy"] == "same-origin" and form.headers["Cache-Control"] == "no-store"
    response = browser.submit(link, {"password": NEW, "confirm": NEW})
    assert response.status_code == 302 and response.headers["Location"] == "/login"

    assert not signed_in.is_signed_in()  # every session was revoked
    assert browser.login("alice", NEW).status_code == 302
    with db.read() as session:
        assert "user.password_reset" in session.scalars(select(AuditEvent.action)).all()

    # The link works once.
    again = new_browser()
    assert again.get(link).status_code == 400
    reused = again.submit(link, {"password": "yet another passphrase", "confirm": "yet another passphrase"},
                          form_page="/reset-password")
    assert reused.status_code == 400
    assert "already been used" in reused.get_data(as_text=True)
    assert new_browser().login("alice", NEW).status_code == 302


def test_expired_link_is_refused(browser, alice, mailbox, db):
    _request_reset(browser, "alice@example.com")
    link = link_in(mailbox()[0])
    with db.write() as session:
        session.execute(update(OneTimeToken).values(expires=utcnow() - timedelta(seconds=1)))
    page = browser.get(link)
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    response = browser.submit(link, {"password": NEW, "confirm": NEW}, form_page="/reset-password")
    assert response.status_code == 400


def test_a_weak_password_does_not_use_up_the_link(browser, alice, mailbox):
    _request_reset(browser, "alice@example.com")
    link = link_in(mailbox()[0])
    short = browser.submit(link, {"password": "short", "confirm": "short"})
    assert short.status_code == 200 and "Passwords must be" in short.get_data(as_text=True)
    assert browser.submit(link, {"password": NEW, "confirm": NEW}).status_code == 302


def test_reset_request_answers_the_same_for_unknown_addresses(new_browser, alice, mailbox):
    known = _request_reset(new_browser(), "alice@example.com")
    unknown = _request_reset(new_browser(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    assert [m["To"] for m in mailbox()] == ["alice@example.com"]


def test_unknown_reset_link(browser):
    page = browser.get("/reset-password/not-a-real-token")
    assert page.status_code == 400 and "not valid" in page.get_data(as_text=True)
