"""HTTP Basic with a username and password: case-insensitive names, and no way around 2FA."""
from __future__ import annotations

import pytest

from envelope.accounts.users import create_user
from envelope.orgs.organizations import add_member
from envelope.orgs.authentication import authenticate
from envelope.errors import Unauthorized
from envelope.models import Role, User
from envelope.names import validate_org_name
from envelope.errors import InvalidInput


@pytest.fixture
def alice(database, organization) -> User:
    with database.write() as session:
        user = create_user(session, "Alice", email="alice@example.com", password="correct horse", actor="t")
        add_member(session, organization, user, Role.maintainer, actor="t")
        return user


def test_username_is_case_insensitive(database, alice) -> None:
    with database.read() as session:
        caller = authenticate(session, "acme", "alice", "correct horse")
    assert caller.can_upload and caller.user_id == alice.id


def test_password_alone_cannot_bypass_two_factor(database, alice) -> None:
    with database.write() as session:
        session.get(User, alice.id).totp_enabled = True
    with database.read() as session, pytest.raises(Unauthorized, match="two-factor"):
        authenticate(session, "acme", "Alice", "correct horse")


@pytest.mark.parametrize("name", ["reset-password", "verify-email", "login", "signup", "account", "api"])
def test_web_routes_cannot_be_organization_names(name) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        validate_org_name(name)
