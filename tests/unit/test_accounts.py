from __future__ import annotations

import pytest
from sqlalchemy import select

from envelope.accounts.users import create_user
from envelope.orgs.organizations import add_member, create_organization, get_organization, parse_org_role
from envelope.errors import Conflict, InvalidInput, NotFound
from envelope.models import Membership, Role


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme", ("acme", Role.reader)),
        ("acme:reader", ("acme", Role.reader)),
        ("acme:maintainer", ("acme", Role.maintainer)),
        ("acme:owner", ("acme", Role.owner)),
    ],
)
def test_parse_org_role(text, expected):
    assert parse_org_role(text) == expected


@pytest.mark.parametrize("text", ["acme:admin", "acme:Owner", "acme:owner:x"])
def test_parse_org_role_refuses(text):
    with pytest.raises(InvalidInput, match="use one of reader, maintainer, owner"):
        parse_org_role(text)


def test_roles_are_ordered():
    assert Role.reader.rank < Role.maintainer.rank < Role.owner.rank


def test_create_organization(database, organization):
    assert (organization.name, organization.serial) == ("acme", 0)
    with database.read() as session:
        assert get_organization(session, "acme").id == organization.id
        with pytest.raises(NotFound, match="envelope org create nope"):
            get_organization(session, "nope")


@pytest.mark.parametrize(("name", "error"), [("acme", Conflict), ("login", InvalidInput), ("Acme", InvalidInput)])
def test_create_organization_refuses(database, organization, name, error):
    with database.write() as session, pytest.raises(error):
        create_organization(session, name, actor="tests")


@pytest.mark.parametrize(
    ("username", "email", "password", "message"),
    [
        ("-alice", "alice@example.com", None, "Invalid username"),
        ("al ice", "alice@example.com", None, "Invalid username"),
        ("a" * 65, "alice@example.com", None, "Invalid username"),
        ("alice", "not-an-email", None, "Invalid email address"),
        ("alice", "alice@localhost", None, "Invalid email address"),
        ("alice", "alice@example.com", "short", "at least 8 characters"),
    ],
)
def test_create_user_refuses(database, username, email, password, message):
    with database.write() as session, pytest.raises(InvalidInput, match=message):
        create_user(session, username, email=email, password=password, actor="tests")


def test_create_user_refuses_taken_names_case_insensitively(database):
    with database.write() as session:
        create_user(session, "alice", email="alice@example.com", actor="tests")
    for username, email in [("ALICE", "other@example.com"), ("bob", "Alice@Example.com")]:
        with database.write() as session, pytest.raises(Conflict, match="already registered"):
            create_user(session, username, email=email, actor="tests")


def test_add_member_sets_and_changes_the_role(database, organization):
    with database.write() as session:
        user = create_user(session, "alice", email="alice@example.com", actor="tests")
        add_member(session, organization, user, Role.reader, actor="tests")
        add_member(session, organization, user, Role.owner, actor="tests")
    with database.read() as session:
        assert session.scalars(select(Membership.role)).all() == [Role.owner]


@pytest.mark.parametrize(("username", "email"), [("alice\n", "alice@example.com"), ("alice", "alice@example.com\n")])
def test_create_user_refuses_trailing_newlines(database, username, email):
    with database.write() as session, pytest.raises(InvalidInput):
        create_user(session, username, email=email, actor="tests")
