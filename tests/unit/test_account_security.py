"""Sign-up, sign-in and passwords (envelope.accounts.users)."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from envelope.accounts import passwords
from envelope.accounts.users import (
    LOGIN_FAILED,
    SignupClosed,
    TakenField,
    WrongPassword,
    authenticate_password,
    change_password,
    create_user,
    register_user,
    request_password_reset,
    reset_password,
    set_signup_open,
    signup_open,
    start_email_verification,
    verify_email,
)
from envelope.errors import Conflict, InvalidInput, Unauthorized
from envelope.models import AuditEvent, User
from envelope.accounts.one_time_tokens import InvalidLink
from envelope.accounts.sessions import start_session, user_sessions

PASSWORD = "a long password"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("dummy"))


def _register(session, username, **kwargs):
    kwargs.setdefault("signup_default", True)
    return register_user(session, username, email=f"{username}@example.com", password=PASSWORD, **kwargs)


def _actions(database) -> list[str]:
    with database.read() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_first_registered_user_is_admin(database):
    with database.write() as session:
        first, second = _register(session, "alice"), _register(session, "bob")
    assert (first.is_admin, second.is_admin) == (True, False)


@pytest.mark.parametrize(
    ("default", "stored", "expected"),
    [(True, None, True), (False, None, False), (True, False, False), (False, True, True)],
)
def test_signup_open_setting_overrides_the_default(database, default, stored, expected):
    with database.write() as session:
        if stored is not None:
            set_signup_open(session, stored, actor="tests")
    with database.read() as session:
        assert signup_open(session, default) is expected


def test_closed_signup_admits_only_invitees(database):
    with database.write() as session:
        set_signup_open(session, False, actor="tests")
    with database.write() as session, pytest.raises(SignupClosed):
        _register(session, "alice")
    with database.write() as session:
        invited = _register(session, "bob", invited_email="BOB@example.com")
        other = register_user(session, "carol", email="carol@example.com", password=PASSWORD,
                              signup_default=True, invited_email="someone-else@example.com")
    assert invited.email_verified is not None and other.email_verified is None


@pytest.mark.parametrize(("username", "email", "field"), [("Alice", "new@example.com", "username"),
                                                          ("new", "ALICE@example.com", "email")])
def test_taken_names_name_their_field(database, username, email, field):
    with database.write() as session:
        _register(session, "alice")
    with database.write() as session, pytest.raises(TakenField) as info:
        register_user(session, username, email=email, password=PASSWORD, signup_default=True)
    assert info.value.field == field and isinstance(info.value, Conflict)


@pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", " Alice@Example.com "])
def test_authenticate_by_username_or_email(database, login):
    with database.write() as session:
        _register(session, "alice")
    with database.read() as session:
        assert authenticate_password(session, login, PASSWORD).username == "alice"


@pytest.mark.parametrize(("login", "password"), [("alice", "wrong"), ("nobody", PASSWORD), ("", PASSWORD)])
def test_authenticate_failures_look_alike(database, login, password):
    with database.write() as session:
        _register(session, "alice")
    with database.read() as session, pytest.raises(Unauthorized) as info:
        authenticate_password(session, login, password)
    assert str(info.value) == LOGIN_FAILED


def test_users_without_a_password_cannot_sign_in(database):
    with database.write() as session:
        create_user(session, "ci", email="ci@example.com", actor="tests")
    with database.read() as session, pytest.raises(Unauthorized):
        authenticate_password(session, "ci", "")


def _sessions(database, user, count):
    with database.write() as session:
        return [start_session(session, user, remember=False, user_agent=None, ip_address=None)
                for _ in range(count)]


def test_change_password_keeps_only_the_current_session(database):
    from envelope.accounts.sessions import session_id_for

    with database.write() as session:
        user = _register(session, "alice")
    current, *_ = _sessions(database, user, 3)
    with database.write() as session, pytest.raises(WrongPassword):
        change_password(session, session.get(User, user.id), "wrong", "new password!", keep_session_id=None)
    with database.write() as session:
        revoked = change_password(session, session.get(User, user.id), PASSWORD, "new password!",
                                  keep_session_id=session_id_for(current))
    assert revoked == 2
    with database.read() as session:
        assert [s.id for s in user_sessions(session, user)] == [session_id_for(current)]
        authenticate_password(session, "alice", "new password!")
    assert "user.password_change" in _actions(database)


def test_reset_password_once_and_everywhere(database):
    with database.write() as session:
        user = _register(session, "alice")
    _sessions(database, user, 2)
    with database.write() as session:
        assert request_password_reset(session, "nobody@example.com") is None
        found, token = request_password_reset(session, "ALICE@example.com")
        _, older = request_password_reset(session, "alice@example.com")
    assert found.id == user.id
    with database.write() as session, pytest.raises(InvalidInput, match="at least"):
        reset_password(session, token, "short")
    with database.write() as session:
        reset_password(session, token, "brand new password")
    with database.read() as session:
        assert user_sessions(session, user) == []
        assert session.get(User, user.id).email_verified is not None
    for used in (token, older):
        with database.write() as session, pytest.raises(InvalidLink, match="already been used"):
            reset_password(session, used, "another password")
    assert "user.password_reset" in _actions(database)


def test_verify_email(database):
    with database.write() as session:
        user = _register(session, "alice")
        token = start_email_verification(session, user)
    with database.write() as session:
        assert verify_email(session, token).email_verified is not None
    with database.write() as session, pytest.raises(Conflict, match="already verified"):
        start_email_verification(session, session.get(User, user.id))
