from __future__ import annotations

import pytest
from sqlalchemy import select

from envelope.accounts.users import create_user
from envelope.orgs.organizations import add_member
from envelope.orgs.capabilities import Capability
from envelope.errors import Conflict, Forbidden, InvalidInput, NotFound
from envelope.orgs.invitations import accept_invitation, invitation_for_signup, invite, revoke_invitation
from envelope.orgs.membership import change_role, member_access, remove_member, require_role, token_access
from envelope.models import AccessToken, Membership, Role
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token


@pytest.fixture
def people(database, organization):
    with database.write() as session:
        users = {}
        for name, role in [("olivia", Role.owner), ("max", Role.maintainer), ("rita", Role.reader)]:
            users[name] = create_user(session, name, email=f"{name}@example.com", actor="tests")
            add_member(session, organization, users[name], role, actor="tests")
        users["nina"] = create_user(session, "nina", email="nina@example.com", actor="tests")
    return users


@pytest.mark.parametrize(
    ("user", "role", "allowed"),
    [("olivia", Role.owner, True), ("max", Role.owner, False), ("max", Role.maintainer, True),
     ("rita", Role.maintainer, False), ("rita", Role.reader, True)],
)
def test_require_role(database, people, user, role, allowed):
    # Each role's own capability, as envelope.orgs.capabilities' table grants it.
    capability = {Role.owner: Capability.DELETE, Role.maintainer: Capability.YANK, Role.reader: Capability.READ_INDEX}[role]
    with database.read() as session:
        if allowed:
            assert require_role(session, "acme", people[user], capability).role.rank >= role.rank
        else:
            with pytest.raises(Forbidden, match=f"your role is {'maintainer' if user == 'max' else 'reader'}"):
                require_role(session, "acme", people[user], capability, to="do it")


def test_outsiders_and_missing_organizations_are_the_same_not_found(database, people):
    with database.read() as session:
        with pytest.raises(NotFound) as hidden:
            member_access(session, "acme", people["nina"])
        with pytest.raises(NotFound) as missing:
            member_access(session, "nope", people["nina"])
    assert str(hidden.value).replace("acme", "X") == str(missing.value).replace("nope", "X")


def test_the_last_owner_stays(database, people):
    with database.write() as session:
        owner = member_access(session, "acme", people["olivia"])
        with pytest.raises(Conflict, match="at least one owner"):
            change_role(session, owner, "olivia", Role.reader)
        with pytest.raises(Conflict, match="at least one owner"):
            remove_member(session, owner, "olivia")
        change_role(session, owner, "max", Role.owner)
        change_role(session, owner, "olivia", Role.reader)
    with database.read() as session:
        assert member_access(session, "acme", people["olivia"]).role is Role.reader


def test_members_leave_but_only_owners_remove_others(database, people, organization):
    with database.write() as session:
        create_token(session, operator_access(organization, "tests"), name="t", user=people["rita"])
        reader = member_access(session, "acme", people["rita"])
        with pytest.raises(Forbidden):
            remove_member(session, reader, "max")
        remove_member(session, reader, "rita")
    with database.read() as session:
        assert session.scalar(select(AccessToken.revoked)) is not None
        with pytest.raises(NotFound):
            member_access(session, "acme", people["rita"])


def test_token_access_caps_tokens_below_owner(database, people, organization):
    with database.write() as session:
        secret = create_token(session, operator_access(organization, "tests"), name="t", scope="upload",
                              user=people["olivia"]).secret
    with database.read() as session:
        access, _ = token_access(session, "acme", secret)
        assert access.allows(Capability.YANK) and not access.allows(Capability.DELETE)
        with pytest.raises(Forbidden, match="Access tokens cannot"):
            access.require(Capability.DELETE, "delete files")


def test_invitation_works_once_and_keeps_the_higher_role(database, people):
    with database.write() as session:
        owner = member_access(session, "acme", people["olivia"])
        secret = invite(session, owner, "nina@example.com", Role.maintainer).secret
        promote = invite(session, owner, "someone@example.com", Role.owner)
        demote = invite(session, owner, "other@example.com", Role.reader)
        # Members who joined another way while their invitations were pending.
        promote.invitation.email, demote.invitation.email = "Rita@Example.com ", "max@example.com"
        promote, demote = promote.secret, demote.secret
    with database.write() as session:
        assert invitation_for_signup(session, secret).email == "nina@example.com"
        with pytest.raises(Forbidden, match="sent to nina@example.com"):
            accept_invitation(session, secret, people["rita"])
        assert accept_invitation(session, secret, people["nina"]).role is Role.maintainer
        assert invitation_for_signup(session, secret) is None
        with pytest.raises(NotFound, match="already been accepted"):
            accept_invitation(session, secret, people["rita"])
        assert accept_invitation(session, promote, people["rita"]).role is Role.owner
        assert accept_invitation(session, demote, people["max"]).role is Role.maintainer


def test_invite_checks(database, people):
    with database.write() as session:
        owner = member_access(session, "acme", people["olivia"])
        with pytest.raises(InvalidInput, match="Invalid email"):
            invite(session, owner, "not-an-address", Role.reader)
        with pytest.raises(Conflict, match="already belongs to max"):
            invite(session, owner, "MAX@example.com", Role.reader)
        with pytest.raises(Forbidden):
            invite(session, member_access(session, "acme", people["max"]), "x@example.com", Role.reader)
        with pytest.raises(NotFound):
            revoke_invitation(session, owner, 2**70)


def test_membership_rows_are_unique(database, people):
    with database.read() as session:
        assert len(session.scalars(select(Membership)).all()) == 3
