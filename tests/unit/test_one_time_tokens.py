from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from envelope.accounts.users import create_user
from envelope.models import OneTimeToken
from envelope.models.base import utcnow
from envelope.accounts.one_time_tokens import (
    LIFETIMES,
    RESET_PASSWORD,
    VERIFY_EMAIL,
    InvalidLink,
    check_token,
    consume_token,
    issue_token,
    revoke_tokens,
    token_digest,
)


@pytest.fixture
def user(database):
    with database.write() as session:
        return create_user(session, "alice", email="alice@example.com", actor="tests")


@pytest.mark.parametrize(("purpose", "lifetime"), [(RESET_PASSWORD, timedelta(hours=1)), (VERIFY_EMAIL, timedelta(days=3))])
def test_issue_stores_only_the_digest_with_its_expiry(database, user, purpose, lifetime):
    assert LIFETIMES[purpose] == lifetime
    with database.write() as session:
        token = issue_token(session, user, purpose)
    with database.read() as session:
        row = session.scalar(select(OneTimeToken))
    assert row.token_hash == token_digest(token) != token
    assert row.expires - row.created == lifetime


def test_consume_works_exactly_once(database, user):
    with database.write() as session:
        token = issue_token(session, user, RESET_PASSWORD)
    with database.write() as session:
        assert consume_token(session, token, RESET_PASSWORD).id == user.id
    with database.write() as session, pytest.raises(InvalidLink, match="already been used"):
        consume_token(session, token, RESET_PASSWORD)


@pytest.mark.parametrize(
    ("token", "purpose", "message"),
    [
        ("not-a-token", RESET_PASSWORD, "not valid"),
        ("", RESET_PASSWORD, "not valid"),
        ("x" * 1000, RESET_PASSWORD, "not valid"),
        (None, VERIFY_EMAIL, "not valid"),  # None: the issued token, used for the other purpose
    ],
)
def test_unknown_tokens_are_refused(database, user, token, purpose, message):
    with database.write() as session:
        issued = issue_token(session, user, RESET_PASSWORD)
    with database.write() as session, pytest.raises(InvalidLink, match=message):
        consume_token(session, token if token is not None else issued, purpose)


def test_expired_tokens_are_refused(database, user):
    with database.write() as session:
        token = issue_token(session, user, VERIFY_EMAIL)
        session.flush()
        session.scalar(select(OneTimeToken)).expires = utcnow() - timedelta(seconds=1)
    with database.read() as session, pytest.raises(InvalidLink, match="expired"):
        check_token(session, token, VERIFY_EMAIL)


def test_revoke_tokens_uses_up_outstanding_ones(database, user):
    with database.write() as session:
        tokens = [issue_token(session, user, RESET_PASSWORD) for _ in range(2)]
        verify = issue_token(session, user, VERIFY_EMAIL)
    with database.write() as session:
        revoke_tokens(session, user, RESET_PASSWORD)
    for token in tokens:
        with database.read() as session, pytest.raises(InvalidLink, match="already been used"):
            check_token(session, token, RESET_PASSWORD)
    with database.read() as session:
        check_token(session, verify, VERIFY_EMAIL)
