"""Invitations: owners invite by email; the link works once, expires, can be withdrawn."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from urllib.parse import parse_qs

from sqlalchemy import select

from envelope.models import Invitation, Membership, Role, User
from envelope.models.base import utcnow
from tests.mailbox import delivered_mail

LINK = re.compile(r"https://pkgs\.example\.com(/invitations/[\w-]+)")


def invite(world, email: str = "nina@example.com", role: str = "maintainer") -> str:
    response = world.browser("olivia").post("/acme/invitations", {"email": email, "role": role})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return LINK.search(response.get_data(as_text=True)).group(1)


def role_of(world, username: str) -> Role | None:
    with world.db.read() as session:
        return session.scalar(
            select(Membership.role).where(
                Membership.organization_id == world.acme.id, Membership.user_id == world.users[username].id
            )
        )


def test_invitation_is_emailed_and_accepted_once(world, settings):
    path = invite(world)
    mails = delivered_mail(settings)
    assert len(mails) == 1
    mail = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert mail["To"] == "nina@example.com" and path in mail.get_content()

    nina = world.browser("nina")
    page = nina.get(path).get_data(as_text=True)
    assert "Join acme" in page and "as a <strong>maintainer</strong>" in page
    response = nina.post(path)
    assert response.status_code == 302 and response.headers["Location"] == "/acme/"
    assert role_of(world, "nina") is Role.maintainer

    again = world.browser("otto")
    assert "already been accepted" in again.get(path).get_data(as_text=True)
    assert again.post(path).status_code == 404
    assert role_of(world, "otto") is None


def test_an_invitation_link_works_only_for_the_invited_address(world):
    path = invite(world, email="Nina@Example.COM")
    otto = world.browser("otto")  # a forwarded (or leaked) link in another account's hands
    page = otto.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "This invitation was sent to Nina@Example.COM" in text and "signed in as otto" in text
    assert "ask an owner of the organization to invite your own address" in text
    assert "Join acme</button>" not in text
    refused = otto.post(path)
    assert refused.status_code == 403 and "sent to Nina@Example.COM" in refused.get_data(as_text=True)
    assert role_of(world, "otto") is None
    with world.db.read() as session:
        assert session.scalar(select(Invitation.accepted)) is None  # still there for nina

    nina = world.browser("nina")  # the same address in another case
    assert "Join acme</button>" in nina.get(path).get_data(as_text=True)
    assert nina.post(path).status_code == 302
    assert role_of(world, "nina") is Role.maintainer
    with world.db.read() as session:
        # Following the link mailed to her address confirmed it.
        assert session.get(User, world.users["nina"].id).email_verified is not None


def test_signed_out_visitor_gets_sign_in_and_sign_up_links_that_come_back(world):
    path = invite(world)
    token = path.rsplit("/", 1)[1]
    page = world.browser(None).get(path).get_data(as_text=True)
    hrefs = dict(re.findall(r'href="(/(?:login|signup))\?([^"]+)"', page))
    assert parse_qs(hrefs["/login"].replace("&amp;", "&")) == {"next": [path]}
    assert parse_qs(hrefs["/signup"].replace("&amp;", "&")) == {"invitation": [token], "next": [path]}


def test_accepting_needs_a_signed_in_user(world):
    path = invite(world)
    response = world.browser(None).post(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert role_of(world, "nina") is None


def test_withdrawn_and_expired_invitations_do_not_work(world):
    path = invite(world)
    with world.db.read() as session:
        invitation_id = session.scalar(select(Invitation.id))
    owner = world.browser("olivia")
    assert "nina@example.com" in owner.get("/acme/members").get_data(as_text=True)
    assert owner.post(f"/acme/invitations/{invitation_id}/revoke").status_code == 302
    nina = world.browser("nina")
    assert "withdrawn" in nina.get(path).get_data(as_text=True)
    assert nina.post(path).status_code == 404

    second = invite(world, role="reader")
    with world.db.write() as session:
        for invitation in session.scalars(select(Invitation)):
            invitation.expires = utcnow() - timedelta(seconds=1)
    assert "expired" in nina.get(second).get_data(as_text=True)
    assert nina.post(second).status_code == 404
    assert role_of(world, "nina") is None


def test_a_second_invitation_to_the_same_address_replaces_the_first(world):
    first = invite(world)
    second = invite(world, role="owner")
    nina = world.browser("nina")
    assert nina.post(first).status_code == 404
    assert nina.post(second).status_code == 302
    assert role_of(world, "nina") is Role.owner


def test_only_owners_invite_and_members_cannot_be_invited_again(world):
    refused = world.browser("max").post("/acme/invitations", {"email": "x@example.com", "role": "reader"})
    assert refused.status_code == 403
    taken = world.browser("olivia").post("/acme/invitations", {"email": "rita@example.com", "role": "owner"})
    assert taken.status_code == 409


def test_unknown_invitation_link_is_404(world):
    assert world.browser("nina").get("/invitations/not-a-real-token").status_code == 404
