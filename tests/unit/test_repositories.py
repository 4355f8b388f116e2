"""Repository connections: names, sealed secrets, the publishing principal."""
from __future__ import annotations

import pytest
from packaging.version import Version

from envelope.errors import Conflict, EnvelopeError, Forbidden, InvalidInput
from envelope.github.repositories import (
    add_repository,
    connection_principal,
    github_token,
    parse_full_name,
    webhook_secret,
)
from envelope.sealing import seal, unseal


@pytest.mark.parametrize(
    "text, expected",
    [("Acme/Billing", "acme/billing"), ("a/b.c_d-e", "a/b.c_d-e"), ("x-y/Z9", "x-y/z9")],
)
def test_parse_full_name(text, expected) -> None:
    assert parse_full_name(text) == expected


@pytest.mark.parametrize("text", ["acme", "acme/", "/repo", "a/b/c", "-acme/x", "acme/x y", "acme/x\n", "a/x.git"])
def test_parse_full_name_refuses(text) -> None:
    with pytest.raises(InvalidInput):
        parse_full_name(text)


def test_sealed_secrets_round_trip_and_need_the_key() -> None:
    sealed = seal("key-one", "ghp_secret")
    assert "ghp_secret" not in sealed and unseal("key-one", sealed) == "ghp_secret"
    with pytest.raises(EnvelopeError, match="ENVELOPE_SECRET_KEY changed"):
        unseal("key-two", sealed)


def test_secrets_are_not_stored_in_the_clear(database, database_path, organization) -> None:
    with database.write() as session:
        new = add_repository(session, "k", organization, "acme/billing", github_token="ghp_TOPSECRET",
                             projects=["Billing"], actor="t")
        assert github_token(new.connection, "k") == "ghp_TOPSECRET"
        assert webhook_secret(new.connection, "k") == new.webhook_secret
    database.dispose()
    raw = b"".join(p.read_bytes() for p in database_path.parent.glob(database_path.name + "*"))
    assert b"ghp_TOPSECRET" not in raw and new.webhook_secret.encode() not in raw


def test_one_connection_per_repository(database, organization) -> None:
    with database.write() as session:
        add_repository(session, "k", organization, "acme/billing", github_token=None, actor="t")
    with pytest.raises(Conflict), database.write() as session:
        add_repository(session, "k", organization, "ACME/billing", github_token=None, actor="t")


def test_connection_principal_limits_projects(database, organization) -> None:
    with database.write() as session:
        new = add_repository(session, "k", organization, "acme/billing", github_token=None,
                             projects=["Billing", "billing-extras"], actor="t")
    principal = connection_principal(new.connection)
    principal.check_upload("billing", Version("9.0"))
    with pytest.raises(Forbidden, match="Repository acme/billing may not upload auth"):
        principal.check_upload("auth", Version("1.0"))
    with database.write() as session:
        open_connection = add_repository(session, "k", organization, "acme/any", github_token=None, actor="t")
    connection_principal(open_connection.connection).check_upload("whatever", Version("1"))
