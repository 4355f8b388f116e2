"""Trusted publishing's exchange against a local OIDC issuer with its own
RSA keys (tests/fake_github/oidc.py): what is minted, and every refusal."""
from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from envelope.errors import Conflict, InvalidInput, MintRefused, NotFound
from envelope.models import AccessToken, AuditEvent, OidcTokenUse
from envelope.models.base import utcnow
from envelope.orgs.capabilities import Capability
from envelope.orgs.tokens import find_token, token_caller
from envelope.publishing.exchange import burn_token, mint_token
from envelope.publishing.issuer import IssuerKeys, IssuerUnavailable
from envelope.publishing.publishers import add_publisher, find_publisher, remove_publisher
from tests.fake_github.oidc import FakeOidc, Job, SigningKey

AUDIENCE = "envelope"


@pytest.fixture
def oidc():
    with FakeOidc() as fake:
        yield fake


@pytest.fixture
def keys(oidc) -> IssuerKeys:
    return IssuerKeys(oidc.url)


def _publisher(database, organization, **options):
    options = {"repository": "acme/billing", "workflow": "release.yml", **options}
    with database.write() as session:
        return add_publisher(session, organization, actor="tests", **options).id


def _mint(database, keys, token):
    return mint_token(database, keys, token, audience=AUDIENCE)


def _refusal(database, keys, token) -> MintRefused:
    with pytest.raises(MintRefused) as caught:
        _mint(database, keys, token)
    return caught.value


def test_a_trusted_workflow_mints_a_15_minute_upload_token(database, organization, oidc, keys) -> None:
    publisher_id = _publisher(database, organization, environment="PyPI", projects=["Billing"])
    oidc.job = Job(environment="pypi", run_id="555", sha="b" * 40)
    minted = _mint(database, keys, oidc.token())
    assert minted.publisher_id == publisher_id
    assert timedelta(minutes=14) < minted.expires - utcnow() <= timedelta(minutes=15)
    with database.read() as session:
        token = find_token(session, minted.secret)
        caller = token_caller(session, token)
        assert (token.scope, token.user_id, token.publisher_id) == ("upload", None, publisher_id)
        assert caller.may(Capability.UPLOAD) and caller.restrictions[0].project == "billing"
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "token.mint")).one()
        assert event.detail["repository"] == "acme/billing"
        assert event.detail["workflow"] == "acme/billing/.github/workflows/release.yml@refs/tags/v1.0.0"
        assert (event.detail["ref"], event.detail["sha"], event.detail["run_id"]) == ("refs/tags/v1.0.0", "b" * 40, "555")
        assert "github acme/billing" in event.actor


def test_a_read_publisher_mints_a_read_token_limited_to_its_projects(database, organization, oidc, keys) -> None:
    _publisher(database, organization, workflow="ci.yml", scope="read", projects=["billing-core", "ledger"])
    oidc.job = Job(workflow="ci.yml", ref="refs/heads/main")
    minted = _mint(database, keys, oidc.token())
    with database.read() as session:
        caller = token_caller(session, find_token(session, minted.secret))
    assert caller.may(Capability.READ_INDEX) and not caller.may(Capability.UPLOAD)
    assert sorted(r.project for r in caller.restrictions) == ["billing-core", "ledger"]


@pytest.mark.parametrize("job, claims, code, words", [
    (Job(repository="acme/other"), {}, "invalid-publisher", "No trusted publisher"),
    (Job(workflow="ci.yml"), {}, "invalid-publisher", "No trusted publisher"),
    (Job(environment="staging"), {}, "invalid-publisher", "No trusted publisher"),
    (Job(), {"job_workflow_ref": "evil/tools/.github/workflows/release.yml@refs/heads/main"},
     "invalid-publisher", "No trusted publisher"),
    # Times relative to when the test runs, not to collection: a long suite would age them.
    (Job(), lambda now: {"exp": now - 120, "iat": now - 420}, "invalid-token", "expired"),
    (Job(), lambda now: {"nbf": now + 600}, "invalid-token", "not valid yet"),
    (Job(), {"aud": "pypi"}, "invalid-token", "audience"),
    (Job(), {"iss": "https://token.actions.githubusercontent.com"}, "invalid-token", "not issued by"),
    (Job(), {"jti": None}, "invalid-token", "'jti'"),
    (Job(), {"repository": None}, "invalid-token", "'repository'"),
], ids=["wrong-repository", "wrong-workflow", "wrong-environment", "workflow-of-another-repository",
        "expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "no-jti", "no-repository"])
def test_refusals(database, organization, oidc, keys, job, claims, code, words) -> None:
    _publisher(database, organization, environment="pypi")
    oidc.job = job
    if callable(claims):
        claims = claims(int(time.time()))
    refusal = _refusal(database, keys, oidc.token(**claims))
    assert refusal.code == code and words in str(refusal), str(refusal)
    with database.read() as session:
        assert session.scalar(select(AccessToken.id)) is None


def test_a_bad_signature_and_an_unknown_key_are_refused(database, organization, oidc, keys) -> None:
    _publisher(database, organization)
    forged = SigningKey.generate()
    forged.kid = oidc.key.kid  # the issuer's key id, another key
    assert "signature does not verify" in str(_refusal(database, keys, oidc.token(key=forged)))
    assert "does not publish" in str(_refusal(database, keys, oidc.token(key=SigningKey.generate())))
    header, _payload, signature = oidc.token().split(".")
    other = base64.urlsafe_b64encode(json.dumps(Job(repository="acme/billing").claims(oidc.url, AUDIENCE)).encode())
    tampered = f"{header}.{other.rstrip(b'=').decode()}.{signature}"
    assert "signature does not verify" in str(_refusal(database, keys, tampered))
    assert _refusal(database, keys, "not-a-jwt").code == "invalid-token"
    hs256 = jwt.encode(Job().claims(oidc.url, AUDIENCE), "s" * 32, algorithm="HS256")
    assert "only RS256" in str(_refusal(database, keys, hs256))


def test_a_token_is_exchanged_once(database, organization, oidc, keys) -> None:
    _publisher(database, organization)
    token = oidc.token()
    _mint(database, keys, token)
    assert _refusal(database, keys, token).code == "invalid-reuse-token"
    with database.read() as session:
        assert len(session.scalars(select(AccessToken)).all()) == 1


def test_concurrent_replays_mint_one_token(database, organization, oidc, keys) -> None:
    _publisher(database, organization)
    token, outcomes = oidc.token(), []
    keys.key_for(oidc.key.kid)  # fetched once, before the race

    def exchange() -> None:
        try:
            outcomes.append(_mint(database, keys, token).token_id)
        except MintRefused as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=exchange) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)).count("invalid-reuse-token") == 3, outcomes


def test_two_matching_publishers_are_refused(database, organization, oidc, keys) -> None:
    _publisher(database, organization)
    _publisher(database, organization, environment="pypi")
    oidc.job = Job(environment="pypi")
    refusal = _refusal(database, keys, oidc.token())
    assert refusal.code == "invalid-publisher" and "2 trusted publishers match" in str(refusal)


def test_the_first_exchange_pins_the_repository_ids(database, organization, oidc, keys) -> None:
    _publisher(database, organization)
    _mint(database, keys, oidc.token())
    oidc.job = Job(repository_id="999", repository_owner_id="31337")  # same name, re-created by someone else
    assert _refusal(database, keys, oidc.token()).code == "invalid-publisher"


def test_burn_revokes_a_minted_token_and_nothing_else(database, organization, oidc, keys, operator) -> None:
    _publisher(database, organization)
    minted = _mint(database, keys, oidc.token())
    from envelope.orgs.membership import operator_access
    from envelope.orgs.tokens import create_token
    with database.write() as session:
        ordinary = create_token(session, operator_access(organization, "tests"), name="deploy", scope="read").secret
    with database.write() as session:
        assert burn_token(session, ordinary) is False
        assert burn_token(session, "envl_nonsense") is False
        assert burn_token(session, minted.secret) is True
    with database.read() as session:
        find_token(session, ordinary)
        with pytest.raises(Exception, match="revoked"):
            find_token(session, minted.secret)


def test_removing_a_publisher_revokes_its_live_tokens(database, organization, oidc, keys) -> None:
    publisher_id = _publisher(database, organization)
    minted = _mint(database, keys, oidc.token())
    with database.write() as session:
        remove_publisher(session, find_publisher(session, publisher_id, organization), actor="tests")
    with database.read() as session:
        with pytest.raises(Exception, match="revoked"):
            find_token(session, minted.secret)
        with pytest.raises(NotFound):
            find_publisher(session, publisher_id)


@pytest.mark.parametrize("options, error", [
    ({"workflow": ".github/workflows/release.yml"}, InvalidInput),
    ({"workflow": "release.sh"}, InvalidInput),
    ({"repository": "not a repo"}, InvalidInput),
    ({"scope": "admin"}, InvalidInput),
    ({"projects": ["not a name!"]}, InvalidInput),
    ({"environment": "a/b"}, InvalidInput),
])
def test_publisher_input_is_checked(database, organization, options, error) -> None:
    with pytest.raises(error):
        _publisher(database, organization, **options)


def test_the_same_publisher_twice_is_a_conflict(database, organization) -> None:
    _publisher(database, organization, repository="Acme/Billing")
    with pytest.raises(Conflict):
        _publisher(database, organization, repository="acme/billing")


def test_old_token_uses_are_deleted(database, organization, oidc, keys) -> None:
    _publisher(database, organization)
    with database.write() as session:
        session.add(OidcTokenUse(issuer=oidc.url, jti="old", expires=utcnow() - timedelta(days=1)))
    _mint(database, keys, oidc.token())
    with database.read() as session:
        jtis = session.scalars(select(OidcTokenUse.jti)).all()
    assert len(jtis) == 1 and "old" not in jtis


def test_keys_come_only_from_the_issuers_origin(oidc) -> None:
    def fetch(url: str) -> dict:
        if url.endswith("openid-configuration"):
            return {**oidc.discovery(), "jwks_uri": "http://169.254.169.254/latest/keys"}
        raise AssertionError(f"fetched {url}")

    with pytest.raises(IssuerUnavailable, match="outside the issuer"):
        IssuerKeys(oidc.url, fetch=fetch).key_for(oidc.key.kid)

    def other_issuer(url: str) -> dict:
        return {**oidc.discovery(), "issuer": "https://evil.example"}

    with pytest.raises(IssuerUnavailable, match="names another issuer"):
        IssuerKeys(oidc.url, fetch=other_issuer).key_for(oidc.key.kid)


def test_a_rotated_key_is_fetched_and_the_set_is_cached(oidc, keys) -> None:
    keys.key_for(oidc.key.kid)
    keys.key_for(oidc.key.kid)
    fetches = [path for path, _ in oidc.requests if path.startswith("/.well-known/")]
    assert len(fetches) == 2  # discovery and JWKS, once
    oidc.key = SigningKey.generate()
    keys._fetched -= 120  # the last fetch is older than a minute
    assert keys.key_for(oidc.key.kid).key_id == oidc.key.kid


def test_an_unreachable_issuer_is_unavailable_not_refused() -> None:
    with pytest.raises(IssuerUnavailable):
        IssuerKeys("http://127.0.0.1:9").key_for("x")


def test_spent_minted_tokens_are_forgotten_after_a_week(database, organization, oidc, keys, operator) -> None:
    from envelope.orgs.membership import operator_access
    from envelope.orgs.tokens import create_token
    from envelope.publishing.exchange import forget_spent_tokens

    _publisher(database, organization)
    minted = _mint(database, keys, oidc.token())
    with database.write() as session:
        create_token(session, operator_access(organization, "tests"), name="person", scope="read",
                     expires=utcnow() + timedelta(minutes=1))
        assert forget_spent_tokens(session, utcnow() + timedelta(days=6)) == 0
        assert forget_spent_tokens(session, utcnow() + timedelta(days=8)) == 1
    with database.read() as session:
        assert session.scalars(select(AccessToken.name)).all() == ["person"]
        assert session.get(AccessToken, minted.token_id) is None
