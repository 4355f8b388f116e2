from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from envelope.models import Invitation, Membership, Organization, Role, User
from envelope.models.base import utcnow
from tests.web.conftest import PASSWORD, link_in


def _user(db, username: str) -> User | None:
    with db.read() as session:
        return session.scalar(select(User).where(User.username == username))


def test_first_user_becomes_admin_and_is_signed_in(browser, db):
    response = browser.signup("alice", "alice@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert browser.is_signed_in()
    assert _user(db, "alice").is_admin

    # Later sign-ups finish through the emailed link (see the enumeration test below).
    second = browser.__class__(browser.client.application.test_client())
    assert second.signup("bob", "bob@example.com").status_code == 200
    assert _user(db, "bob") is None


def test_the_first_sign_up_owns_the_organizations_the_cli_made_before_it(browser, db):
    from envelope.orgs.organizations import create_organization

    with db.write() as session:  # the README's quick start: `envelope org create acme`
        create_organization(session, "acme", actor="cli root")
    assert browser.get("/acme/").status_code in (302, 401, 404)  # nobody signed in yet
    assert browser.signup("alice", "alice@example.com").status_code == 302
    page = browser.get("/acme/")
    assert page.status_code == 200 and "acme" in page.get_data(as_text=True)
    with db.read() as session:
        roles = dict(session.execute(
            select(User.username, Membership.role).join(Membership, Membership.user_id == User.id)
            .join(Organization, Organization.id == Membership.organization_id).where(Organization.name == "acme")
        ).all())
    assert roles == {"alice": Role.owner} and _user(db, "alice").is_admin
    assert "org.claim" in browser.get("/acme/audit").get_data(as_text=True)


def test_signup_answers_the_same_for_new_and_registered_addresses(browser, new_browser, alice, db, mailbox):
    taken = browser.signup("eve", "alice@example.com")
    fresh = new_browser().signup("frank", "frank@example.com")
    assert taken.status_code == fresh.status_code == 200
    normalise = lambda r, email: r.get_data(as_text=True).replace(email, "ADDRESS")  # noqa: E731
    assert normalise(taken, "alice@example.com") == normalise(fresh, "frank@example.com")
    assert _user(db, "eve") is None and _user(db, "frank") is None  # nothing created yet

    messages = {str(m["To"]): m for m in mailbox()}
    notice = messages["alice@example.com"].get_content()
    assert "already is an account" in notice and "/signup/confirm/" not in notice
    confirm = link_in(messages["frank@example.com"])
    assert confirm.startswith("/signup/confirm/")

    finisher = new_browser()
    response = finisher.get(confirm)
    assert response.status_code == 302 and finisher.is_signed_in()
    frank = _user(db, "frank")
    assert frank is not None and frank.email_verified is not None and not frank.is_admin
    again = new_browser().get(confirm)
    assert again.status_code == 400 and "not valid or was already used" in again.get_data(as_text=True)


def test_signup_refuses_taken_username_case_insensitively(browser, alice):
    response = browser.signup("ALICE", "other@example.com")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The username &#39;ALICE&#39; is already registered" in page
    # The message is tied to its field.
    assert 'id="username-error-1"' in page and 'aria-describedby="username-hint username-error-1"' in page
    assert not browser.is_signed_in()


def test_signup_form_errors_are_tied_to_their_fields(browser):
    response = browser.submit(
        "/signup", {"username": "bad name", "email": "carol@example.com", "password": PASSWORD, "confirm": "different"}
    )
    page = response.get_data(as_text=True)
    assert "The two passwords differ." in page and 'aria-invalid="true"' in page
    assert 'role="alert"' in page and 'href="#confirm"' in page


def test_closed_signup_refuses(browser, new_browser, make_user, db):
    make_user("root", is_admin=True)
    admin = new_browser()
    admin.login("root")
    assert admin.submit("/admin/settings", {}).status_code == 302  # "anyone may sign up" unticked

    page = browser.get("/signup")
    assert page.status_code == 403 and "Sign-up is closed" in page.get_data(as_text=True)
    # A crafted POST is refused too (the token comes from another page).
    response = browser.submit(
        "/signup",
        {"username": "mallory", "email": "m@example.com", "password": PASSWORD, "confirm": PASSWORD},
        form_page="/login",
    )
    assert response.status_code == 403
    assert _user(db, "mallory") is None


def test_closed_by_environment(make_settings):
    from web import create_app

    app = create_app(make_settings(ENVELOPE_SIGNUP="closed"))
    assert app.test_client().get("/signup").status_code == 403


def test_invitation_lets_its_holder_sign_up_while_closed(make_settings, db):
    from web import create_app
    from tests.web.conftest import Browser

    app = create_app(make_settings(ENVELOPE_SIGNUP="closed"))
    database = app.extensions["envelope"].db
    secret = "invitation-secret-value"
    with database.write() as session:
        org = Organization(name="acme")
        session.add(org)
        session.flush()
        session.add(
            Invitation(
                organization_id=org.id, email="dana@example.com", role=Role.reader,
                token_hash=hashlib.sha256(secret.encode()).hexdigest(), expires=utcnow() + timedelta(days=1),
            )
        )
    browser = Browser(app.test_client())
    form = browser.get(f"/signup?invitation={secret}")
    assert form.status_code == 200 and 'value="dana@example.com"' in form.get_data(as_text=True)
    response = browser.signup("dana", "dana@example.com", query=f"?invitation={secret}")
    assert response.status_code == 302 and response.headers["Location"] == f"/invitations/{secret}"
    with database.read() as session:
        dana = session.scalar(select(User).where(User.username == "dana"))
        assert dana.email_verified is not None  # the invitation reached this address

    assert Browser(app.test_client()).get("/signup?invitation=wrong").status_code == 403


def test_an_account_made_first_by_the_cli_is_the_admin_and_sign_up_then_is_not(browser, db):
    from envelope.accounts.users import create_account

    with db.write() as session:  # what `envelope user create root` does on a new instance
        create_account(session, "root", email="root@example.com", actor="cli root")
    assert browser.signup("alice", "alice@example.com").status_code == 200  # an emailed link now
    assert _user(db, "root").is_admin and _user(db, "alice") is None
