"""The auth cache: fast for repeated requests, honest about revocation and expiry."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from envelope.orgs.authentication import authenticate_cached
from envelope.cache import MemoryCache
from envelope.errors import NotFound, Unauthorized
from envelope.models import Organization
from envelope.models.base import utcnow
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token, revoke_token

KEY = "server-secret"


def issue(database, organization, **kwargs) -> tuple[str, int]:
    with database.write() as session:
        issued = create_token(session, operator_access(organization, "test"), name="t", **kwargs)
        return issued.secret, issued.token.id


def test_hit_skips_the_database_and_revocation_is_seen_after_the_ttl(database, organization) -> None:
    cache = MemoryCache()
    secret, token_id = issue(database, organization, projects=["billing>=1"])
    first = authenticate_cached(database, cache, KEY, 0.5, "acme", "__token__", secret)
    with database.write() as session:
        revoke_token(session, token_id, actor="test")
    again = authenticate_cached(database, cache, KEY, 0.5, "acme", "__token__", secret)
    assert again.caller.restriction_key == first.caller.restriction_key
    assert again.caller.may_read_version("billing", "1.5") and not again.caller.may_read_version("billing", "0.9")
    # The cache answered, but it does not decide: the revocation moved the
    # organization's auth epoch past the one the cached caller was verified
    # under, and the index (reading the epoch with its serial) verifies again.
    with database.read() as session:
        assert session.get(Organization, organization.id).auth_epoch > again.caller.auth_epoch
    time.sleep(0.6)
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_cached(database, cache, KEY, 0.5, "acme", "__token__", secret)


def test_expiry_is_exact_even_from_the_cache(database, organization) -> None:
    cache = MemoryCache()
    secret, _ = issue(database, organization, expires=utcnow() + timedelta(seconds=1))
    authenticate_cached(database, cache, KEY, 3600, "acme", "__token__", secret)
    assert len(cache._entries) == 1
    time.sleep(1.1)
    with pytest.raises(Unauthorized, match="expired"):
        authenticate_cached(database, cache, KEY, 3600, "acme", "__token__", secret)


def test_failures_are_not_cached_and_keys_hide_the_secret(database, organization) -> None:
    cache = MemoryCache()
    secret, _ = issue(database, organization)
    with pytest.raises(NotFound):
        authenticate_cached(database, cache, KEY, 60, "other-org", "__token__", secret)
    assert len(cache._entries) == 0
    authenticate_cached(database, cache, KEY, 60, "acme", "__token__", secret)
    (key,) = cache._entries
    assert secret not in key and secret.encode() not in cache.get(key)
