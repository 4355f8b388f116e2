from __future__ import annotations

import hashlib
import re
import string
from datetime import datetime, timedelta, timezone

import pytest
from packaging.version import Version
from sqlalchemy import delete, func, select

from envelope.accounts.users import create_user
from envelope.orgs.organizations import add_member
from envelope.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from envelope.models import AccessToken, AuditEvent, Membership, Role, User
from envelope.orgs.membership import operator_access
from envelope.models.base import utcnow
from envelope.orgs.tokens import (
    LAST_USED_PRECISION,
    PREFIX,
    find_token,
    generate_secret,
    create_token,
    hash_secret,
    list_tokens,
    looks_like_token,
    mark_used,
    needs_last_used_update,
    parse_expiry,
    revoke_token,
    token_principal,
)

TOKEN_SHAPE = re.compile(r"envl_[0-9A-Za-z]{38}")
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_generate_secret_shape():
    secret = generate_secret()
    assert TOKEN_SHAPE.fullmatch(secret)
    assert len(secret) == len(PREFIX) + 32 + 6
    assert looks_like_token(secret)


def test_generate_secret_is_random():
    secrets = {generate_secret() for _ in range(200)}
    assert len(secrets) == 200


def _replace(secret: str, index: int, alphabet: str = string.digits + string.ascii_letters) -> str:
    """The secret with one character changed to another character of the alphabet."""
    char = secret[index]
    other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
    return secret[:index] + other + secret[index + 1 :]


SAMPLE = generate_secret()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_replace(SAMPLE, len(PREFIX)), id="first-body-char-changed"),
        pytest.param(_replace(SAMPLE, len(PREFIX) + 20), id="middle-body-char-changed"),
        pytest.param(_replace(SAMPLE, len(SAMPLE) - 1), id="checksum-changed"),
        pytest.param(SAMPLE[:-1], id="truncated-by-one"),
        pytest.param(SAMPLE[:20], id="truncated"),
        pytest.param(SAMPLE + "0", id="one-char-too-many"),
        pytest.param("envx_" + SAMPLE[len(PREFIX) :], id="wrong-prefix"),
        pytest.param("ENVL_" + SAMPLE[len(PREFIX) :], id="uppercase-prefix"),
        pytest.param(SAMPLE[len(PREFIX) :], id="no-prefix"),
        pytest.param("pypi-" + SAMPLE[len(PREFIX) :], id="pypi-prefix"),
        pytest.param(SAMPLE[:10] + "-" + SAMPLE[11:], id="char-outside-alphabet"),
        pytest.param(SAMPLE[:10] + "é" + SAMPLE[11:], id="non-ascii-char"),
        pytest.param(" " + SAMPLE, id="leading-space"),
        pytest.param("", id="empty"),
        pytest.param(PREFIX, id="prefix-only"),
        pytest.param(PREFIX + "0" * 38, id="zeros-with-bad-checksum"),
    ],
)
def test_looks_like_token_rejects(text):
    assert looks_like_token(text) is False


def test_hash_secret_is_sha256_hex():
    # The docstring's promise: only the SHA-256 is stored.
    assert hash_secret(SAMPLE) == hashlib.sha256(SAMPLE.encode()).hexdigest()
    assert hash_secret(SAMPLE) != hash_secret(_replace(SAMPLE, 10))


# --------------------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW + timedelta(days=30)),
        ("2h", NOW + timedelta(hours=2)),
        ("45m", NOW + timedelta(minutes=45)),
        ("1w", NOW + timedelta(weeks=1)),
        (" 2h ", NOW + timedelta(hours=2)),
        ("2 h", NOW + timedelta(hours=2)),
        ("2031-06-01", datetime(2031, 6, 2, tzinfo=timezone.utc)),  # a date: through the end of that day
        ("never", None),
        ("2031-06-01T08:30", datetime(2031, 6, 1, 8, 30, tzinfo=timezone.utc)),
        ("2031-06-01T08:30:00Z", datetime(2031, 6, 1, 8, 30, tzinfo=timezone.utc)),
        ("2031-06-01T08:30:00+02:00", datetime(2031, 6, 1, 6, 30, tzinfo=timezone.utc)),
        ("2031-06-01T08:30:00-05:00", datetime(2031, 6, 1, 13, 30, tzinfo=timezone.utc)),
        ("2030-01-01T12:00:00-00:01", NOW + timedelta(minutes=1)),
    ],
)
def test_parse_expiry(text, expected):
    moment = parse_expiry(text, now=NOW)
    assert moment == expected
    assert moment is None or moment.tzinfo is not None


def test_parse_expiry_duration_counts_from_the_real_clock_by_default():
    before = utcnow()
    moment = parse_expiry("2h")
    assert before + timedelta(hours=2) <= moment <= utcnow() + timedelta(hours=2)


@pytest.mark.parametrize(
    "text",
    ["2029-12-31", "2030-01-01T12:00:00", "2030-01-01T12:00:00+00:00", "2030-01-01T13:00:00+02:00", "1999-01-01"],
)
def test_parse_expiry_refuses_the_past(text):
    with pytest.raises(InvalidInput, match="is in the past"):
        parse_expiry(text, now=NOW)


@pytest.mark.parametrize(
    "text", ["", "soon", "30", "30s", "30 days", "1y", "d30", "-1d", "+1d", "1.5h", "2031-13-01", "tomorrow"]
)
def test_parse_expiry_refuses_garbage(text):
    with pytest.raises(InvalidInput, match="Invalid expiry"):
        parse_expiry(text, now=NOW)


@pytest.mark.parametrize("text", ["999999999d", "99999999999d", "9999999999999w"])
def test_parse_expiry_refuses_absurd_durations(text):
    with pytest.raises(InvalidInput):
        parse_expiry(text, now=NOW)


@pytest.mark.parametrize("text", ["0d", "0m"])
def test_parse_expiry_refuses_zero_duration(text):
    with pytest.raises(InvalidInput):
        parse_expiry(text, now=NOW)


# --------------------------------------------------------------------------- with a database


def _user(database, organization, username: str, role: Role | None) -> User:
    with database.write() as session:
        user = create_user(session, username, email=f"{username}@example.com", actor="tests")
        if role is not None:
            add_member(session, organization, user, role, actor="tests")
        return user


def _issue(database, organization, **kwargs):
    kwargs.setdefault("name", "ci")
    with database.write() as session:
        return create_token(session, operator_access(organization, "tests"), **kwargs)


def _principal(database, secret: str):
    with database.read() as session:
        return token_principal(session, find_token(session, secret))


def test_issue_token_returns_a_usable_secret(database, organization):
    issued = _issue(database, organization, scope="upload")
    assert TOKEN_SHAPE.fullmatch(issued.secret)
    with database.read() as session:
        token = find_token(session, issued.secret)
        assert token.id == issued.token.id
        assert (token.name, token.scope, token.organization_id) == ("ci", "upload", organization.id)
        assert token.secret_hash == hash_secret(issued.secret)
        assert token.hint == issued.secret[len(PREFIX) : len(PREFIX) + 6]
        assert token.user_id is None


def test_issue_token_stores_only_a_hash(database, database_path, organization):
    issued = _issue(database, organization, scope="upload", projects=["billing>=1"])
    database.dispose()
    stored = b"".join(path.read_bytes() for path in database_path.parent.glob(database_path.name + "*"))
    # The hash is there, which shows we are looking at the right bytes...
    assert hash_secret(issued.secret).encode() in stored
    # ...and neither the secret nor its body is.
    assert issued.secret.encode() not in stored
    assert issued.secret[len(PREFIX) :].encode() not in stored
    assert issued.secret[len(PREFIX) + 6 :].encode() not in stored


def test_issue_token_records_an_audit_event(database, organization):
    issued = _issue(database, organization, scope="upload", projects=["billing"])
    with database.read() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "token.create"))
        assert event.subject == f"token #{issued.token.id} 'ci'"
        assert event.detail == {"scope": "upload", "projects": ["billing"]}
        assert issued.secret not in str(event.detail) + event.subject


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "admin"}, "Invalid scope 'admin'"),
        ({"scope": "READ"}, "Invalid scope"),
        ({"name": ""}, "A token name must be 1-100 characters"),
        ({"name": "   "}, "A token name must be 1-100 characters"),
        ({"name": "x" * 101}, "A token name must be 1-100 characters"),
        ({"projects": ["billing", "Billing"]}, "Name each project once"),
        ({"projects": ["billing>=1", "billing<2"]}, "Name each project once"),
        ({"projects": ["billing[extra]"]}, "extras, URLs and markers are not allowed"),
        ({"projects": ["not a name"]}, "Invalid project restriction"),
    ],
)
def test_issue_token_refuses(database, organization, kwargs, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        _issue(database, organization, **kwargs)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 0


def test_issue_token_refuses_a_user_outside_the_organization(database, organization):
    outsider = _user(database, organization, "outsider", role=None)
    with pytest.raises(InvalidInput, match="'outsider' is not a member of 'acme'"):
        _issue(database, organization, user=outsider)


def test_create_token_refuses_upload_scope_for_a_user_who_could_never_upload(database, organization):
    reader = _user(database, organization, "rita", Role.reader)
    with pytest.raises(Forbidden, match="^rita's role in acme is reader: the token could never upload"):
        _issue(database, organization, scope="upload", user=reader)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 0


def test_find_token_unknown(database, organization):
    _issue(database, organization)
    with database.read() as session, pytest.raises(Unauthorized, match="^Invalid access token.$"):
        find_token(session, generate_secret())


@pytest.mark.parametrize("secret", ["", "hunter2", "envl_short", "Basic abc"])
def test_find_token_malformed(database, secret):
    with database.read() as session, pytest.raises(Unauthorized, match="^Invalid access token.$"):
        find_token(session, secret)


def test_find_token_tampered_secret_of_a_live_token(database, organization):
    issued = _issue(database, organization)
    with database.read() as session, pytest.raises(Unauthorized, match="Invalid access token"):
        find_token(session, _replace(issued.secret, 12))


def test_find_token_revoked(database, organization):
    issued = _issue(database, organization)
    with database.write() as session:
        revoke_token(session, issued.token.id, actor="tests")
    with database.read() as session, pytest.raises(Unauthorized, match="has been revoked"):
        find_token(session, issued.secret)


def test_find_token_expired_says_so(database, organization):
    issued = _issue(database, organization, expires=parse_expiry("1h"))
    with database.read() as session:
        assert find_token(session, issued.secret).id == issued.token.id
    expired_at = datetime(2024, 3, 5, 7, 9, tzinfo=timezone.utc)
    with database.write() as session:
        session.get(AccessToken, issued.token.id).expires = expired_at
    with database.read() as session, pytest.raises(Unauthorized) as caught:
        find_token(session, issued.secret)
    assert str(caught.value) == "This access token expired on 2024-03-05 07:09 UTC; create a new one."


def test_find_token_with_future_expiry_is_live(database, organization):
    issued = _issue(database, organization, expires=parse_expiry("2h"))
    with database.read() as session:
        token = find_token(session, issued.secret)
        assert token.expires > utcnow() + timedelta(hours=1)


# --------------------------------------------------------------------------- principals


@pytest.mark.parametrize(
    ("scope", "role", "can_upload"),
    [
        ("read", None, False),
        ("upload", None, True),
        ("read", Role.owner, False),
        ("upload", Role.reader, False),
        ("upload", Role.maintainer, True),
        ("upload", Role.owner, True),
    ],
)
def test_token_principal_scope_is_capped_by_the_users_role(database, organization, scope, role, can_upload):
    demoted = scope == "upload" and role is Role.reader  # create_token refuses it: only a demotion gets here
    user = _user(database, organization, "alice", Role.maintainer if demoted else role) if role is not None else None
    issued = _issue(database, organization, scope=scope, user=user)
    if demoted:
        with database.write() as session:
            add_member(session, organization, user, Role.reader, actor="tests")
    who = _principal(database, issued.secret)
    assert who.can_upload is can_upload
    assert who.can_manage is False
    assert (who.organization_id, who.token_id) == (organization.id, issued.token.id)
    assert who.user_id == (user.id if user else None)
    assert who.label == f"token 'ci' (#{issued.token.id})"
    if can_upload:
        who.check_upload("anything", Version("1.0"))
    else:
        with pytest.raises(Forbidden, match="may only read"):
            who.check_upload("anything", Version("1.0"))


def test_token_principal_follows_a_role_change(database, organization):
    user = _user(database, organization, "alice", Role.maintainer)
    issued = _issue(database, organization, scope="upload", user=user)
    assert _principal(database, issued.secret).can_upload
    with database.write() as session:
        add_member(session, organization, session.get(User, user.id), Role.reader, actor="tests")
    assert not _principal(database, issued.secret).can_upload


def test_token_principal_fails_once_the_user_leaves(database, organization):
    user = _user(database, organization, "alice", Role.owner)
    issued = _issue(database, organization, scope="upload", user=user)
    assert _principal(database, issued.secret).can_upload
    with database.write() as session:
        session.execute(delete(Membership).where(Membership.user_id == user.id))
    with pytest.raises(Unauthorized, match="no longer a member of the organization"):
        _principal(database, issued.secret)


def test_token_principal_fails_for_a_deactivated_user(database, organization):
    user = _user(database, organization, "alice", Role.owner)
    issued = _issue(database, organization, scope="read", user=user)
    with database.write() as session:
        session.get(User, user.id).is_active = False
    with pytest.raises(Unauthorized, match="no longer a member"):
        _principal(database, issued.secret)


def test_restrictions_are_persisted_and_applied(database, organization):
    issued = _issue(database, organization, scope="upload", projects=["Billing>=1,<2", "auth"])
    with database.read() as session:
        stored = session.get(AccessToken, issued.token.id).restrictions
    assert stored == [
        {"project": "billing", "specifier": "<2,>=1"},
        {"project": "auth", "specifier": ""},
    ]
    who = _principal(database, issued.secret)
    assert who.may_read_project("billing") and who.may_read_project("auth")
    assert not who.may_read_project("payroll")
    assert who.may_read_version("billing", "1.5")
    assert not who.may_read_version("billing", "2.0")
    assert who.may_read_version("auth", "99")
    who.check_upload("billing", Version("1.2"))
    with pytest.raises(Forbidden, match=re.escape("restricted to billing<2,>=1")):
        who.check_upload("billing", Version("2.0"))


def test_token_without_restrictions_sees_everything(database, organization):
    who = _principal(database, _issue(database, organization).secret)
    assert who.restrictions is None
    assert who.restriction_key == "all"
    assert who.may_read_version("anything", "1.0")


def test_restriction_key_equal_for_equal_restrictions(database, organization):
    a = _principal(database, _issue(database, organization, name="a", projects=["billing>=1,<2", "auth"]).secret)
    b = _principal(database, _issue(database, organization, name="b", projects=["auth", "billing<2, >=1"]).secret)
    c = _principal(database, _issue(database, organization, name="c", projects=["billing>=1"]).secret)
    assert a.restriction_key == b.restriction_key != c.restriction_key


# --------------------------------------------------------------------------- revoke, list, last used


def test_revoke_token_is_idempotent_and_audited(database, organization):
    issued = _issue(database, organization)
    with database.write() as session:
        first = revoke_token(session, issued.token.id, actor="tests").revoked
    with database.write() as session:
        again = revoke_token(session, issued.token.id, actor="tests").revoked
    assert first is not None and again == first
    with database.read() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action == "token.revoke")).all()
    assert actions == ["token.revoke"]


def test_revoke_token_leaves_other_tokens_alone(database, organization):
    doomed, kept = _issue(database, organization, name="doomed"), _issue(database, organization, name="kept")
    with database.write() as session:
        revoke_token(session, doomed.token.id, actor="tests")
    with database.read() as session:
        assert find_token(session, kept.secret).id == kept.token.id


def test_revoke_unknown_token(database):
    with database.write() as session, pytest.raises(NotFound, match="No token with id 4242"):
        revoke_token(session, 4242, actor="tests")


def test_list_tokens_in_id_order(database, organization):
    ids = [_issue(database, organization, name=name).token.id for name in ("one", "two", "three")]
    with database.read() as session:
        listed = list_tokens(session, organization)
    assert [t.id for t in listed] == ids
    assert [t.name for t in listed] == ["one", "two", "three"]


@pytest.mark.parametrize(
    ("last_used", "expected"),
    [
        (None, True),
        (timedelta(0), False),
        (LAST_USED_PRECISION - timedelta(seconds=5), False),
        (LAST_USED_PRECISION + timedelta(seconds=5), True),
        (timedelta(days=3), True),
    ],
)
def test_needs_last_used_update(last_used, expected):
    token = AccessToken(last_used=None if last_used is None else utcnow() - last_used)
    assert needs_last_used_update(token) is expected


def test_mark_used_records_the_time(database, organization):
    issued = _issue(database, organization)
    with database.read() as session:
        assert needs_last_used_update(find_token(session, issued.secret))
    with database.write() as session:
        mark_used(session, issued.token.id)
        mark_used(session, 4242)  # a token deleted meanwhile is not an error
    with database.read() as session:
        token = find_token(session, issued.secret)
        assert token.last_used is not None
        assert not needs_last_used_update(token)
