"""Failed HTTP Basic sign-ins on the index are rate-limited like the login
form: per client address and per username. Working tokens never are."""
from __future__ import annotations

import base64

import pytest

from envelope.orgs.organizations import add_member, create_organization
from envelope.models import Role
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token
from tests.web.conftest import PASSWORD
from web.machine.auth import FAILURES_PER_ADDRESS, FAILURES_PER_USERNAME

INDEX = "/acme/simple/"


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture
def acme(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    with db.write() as session:
        org = create_organization(session, "acme", actor="tests")
        for user in (alice, bob):
            add_member(session, org, user, Role.reader, actor="tests")
        return create_token(session, operator_access(org, "tests"), name="ci").secret


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_limits_are_those_of_the_login_form_and_above():
    assert FAILURES_PER_USERNAME.amount == 10 and FAILURES_PER_USERNAME.get_expiry() == 60
    assert FAILURES_PER_ADDRESS.amount >= FAILURES_PER_USERNAME.amount


def test_wrong_passwords_for_a_username_get_429_then_even_the_right_one(app, acme):
    guesser = from_address(app, "203.0.113.1")
    for _ in range(FAILURES_PER_USERNAME.amount):
        assert guesser.get(INDEX, headers=basic("alice", "wrong")).status_code == 401
    blocked = guesser.get(INDEX, headers=basic("alice", "wrong"))
    assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.status
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    # The right password is not even checked now, from here or from anywhere else ...
    assert guesser.get(INDEX, headers=basic("alice", PASSWORD)).status_code == 429
    elsewhere = from_address(app, "198.51.100.7")
    assert elsewhere.get(INDEX, headers=basic("ALICE", PASSWORD)).status_code == 429
    # ... while other accounts, and tokens from the guesser's own address, work.
    assert elsewhere.get(INDEX, headers=basic("bob", PASSWORD)).status_code == 200
    assert guesser.get(INDEX, headers=basic("__token__", acme)).status_code == 200
    # Uploads and files share the limit.
    assert guesser.post("/acme/legacy/", headers=basic("alice", PASSWORD)).status_code == 429


def test_failed_tokens_and_passwords_from_one_address_are_limited_together(app, acme):
    sprayer = from_address(app, "203.0.113.2")
    for n in range(FAILURES_PER_ADDRESS.amount):
        secret = f"envl_not-a-real-token-{n:04d}" if n % 2 else "envl_" + "0" * 40
        username = "__token__" if n % 3 else f"user{n}"
        password = secret if n % 3 else "wrong"
        assert sprayer.get(INDEX, headers=basic(username, password)).status_code == 401
    refused = sprayer.get(INDEX, headers=basic("__token__", "envl_" + "1" * 40))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert sprayer.get(INDEX, headers=basic("bob", PASSWORD)).status_code == 429
    # A valid token is never throttled, not even from this address.
    assert sprayer.get(INDEX, headers=basic("__token__", acme)).status_code == 200
    other = from_address(app, "203.0.113.3")
    assert other.get(INDEX, headers=basic("__token__", "envl_" + "1" * 40)).status_code == 401
    assert other.get(INDEX, headers=basic("bob", PASSWORD)).status_code == 200


def test_successful_sign_ins_are_never_counted(app, acme):
    client = from_address(app, "203.0.113.4")
    for _ in range(5 * FAILURES_PER_ADDRESS.amount):
        assert client.get(INDEX, headers=basic("__token__", acme)).status_code == 200
    for _ in range(2 * FAILURES_PER_USERNAME.amount):
        assert client.get(INDEX, headers=basic("bob", PASSWORD)).status_code == 200
    assert client.get(INDEX, headers=basic("bob", "wrong")).status_code == 401
