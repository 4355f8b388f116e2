from __future__ import annotations

from tests.mailbox import delivered_mail
from tests.web.conftest import link_in


def test_signup_sends_a_verification_link(browser, new_browser, mailbox):
    browser.signup("alice", "alice@example.com")
    assert "not verified" in browser.get("/account").get_data(as_text=True)
    (message,) = mailbox()
    link = link_in(message)
    assert link.startswith("/verify-email/")

    # The link works without being signed in (it may be opened on another device).
    page = new_browser().get(link)
    assert page.status_code == 200 and "alice@example.com is confirmed" in page.get_data(as_text=True)
    assert "verified" in browser.get("/account").get_data(as_text=True)
    assert "not verified" not in browser.get("/account").get_data(as_text=True)
    assert new_browser().get(link).status_code == 400


def test_resend_verification(browser, alice, mailbox):
    browser.login("alice")
    response = browser.submit("/account/verify-email", form_page="/account")
    assert response.status_code == 302
    (message,) = mailbox()
    assert message["To"] == "alice@example.com"
    assert browser.get(link_in(message)).status_code == 200
    # Once verified there is nothing to resend.
    again = browser.submit("/account/verify-email", form_page="/", follow_redirects=True)
    assert "already verified" in again.get_data(as_text=True)
    assert len(mailbox()) == 1


def test_links_use_the_public_base_url(make_settings):
    from web import create_app
    from tests.web.conftest import Browser

    settings = make_settings(ENVELOPE_BASE_URL="https://pypi.example.com/")
    browser = Browser(create_app(settings).test_client())
    browser.signup("alice", "alice@example.com")
    from email import message_from_bytes, policy

    (path,) = delivered_mail(settings)
    body = message_from_bytes(path.read_bytes(), policy=policy.default).get_content()
    assert "https://pypi.example.com/verify-email/" in body
