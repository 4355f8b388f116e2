from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from envelope.accounts import passwords
from envelope.accounts.users import WrongPassword, create_user
from envelope.errors import Conflict
from envelope.models import RecoveryCode, User
from envelope.accounts.totp import (
    RECOVERY_CODE_COUNT,
    STEP,
    InvalidCode,
    confirm_enrolment,
    disable_totp,
    pending_enrolment,
    regenerate_recovery_codes,
    remaining_recovery_codes,
    start_enrolment,
    verify_second_factor,
)

KEY = "instance-secret-key"
NOW = datetime(2026, 1, 1, 12, 0, 15, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("dummy"))


@pytest.fixture
def user(database):
    with database.write() as session:
        return create_user(session, "alice", email="alice@example.com", password="a long password", actor="tests")


@pytest.fixture
def enrolled(database, user):
    """(TOTP of the device, recovery codes), enrolment confirmed at NOW."""
    with database.write() as session:
        me = session.get(User, user.id)
        enrolment = start_enrolment(session, me, KEY)
    totp = pyotp.TOTP(enrolment.secret)
    with database.write() as session:
        codes = confirm_enrolment(session, session.get(User, user.id), totp.at(NOW), KEY, now=NOW)
    return totp, codes


def _verify(database, user, code, now=NOW):
    with database.write() as session:
        return verify_second_factor(session, session.get(User, user.id), code, KEY, now=now)


def test_enrolment_seals_the_secret_and_makes_a_qr_code(database, user):
    with database.write() as session:
        enrolment = start_enrolment(session, session.get(User, user.id), KEY)
    assert enrolment.uri.startswith("otpauth://totp/Envelope:alice?secret=")
    assert enrolment.qr_svg.startswith("<svg") and "<script" not in enrolment.qr_svg
    with database.read() as session:
        stored = session.get(User, user.id)
        assert enrolment.secret not in stored.totp_secret_sealed and not stored.totp_enabled
        assert pending_enrolment(stored, KEY).secret == enrolment.secret
        assert pending_enrolment(stored, "another key") is None


def test_confirm_enables_and_returns_hashed_single_use_codes(database, user, enrolled):
    _, codes = enrolled
    assert len(codes) == len(set(codes)) == RECOVERY_CODE_COUNT
    with database.read() as session:
        assert session.get(User, user.id).totp_enabled
        hashes = set(session.scalars(select(RecoveryCode.code_hash)))
    assert len(hashes) == RECOVERY_CODE_COUNT and not hashes & set(codes)
    with database.write() as session, pytest.raises(Conflict):
        start_enrolment(session, session.get(User, user.id), KEY)


def test_confirm_refuses_a_wrong_code(database, user):
    with database.write() as session:
        start_enrolment(session, session.get(User, user.id), KEY)
    with database.write() as session, pytest.raises(InvalidCode, match="does not match"):
        confirm_enrolment(session, session.get(User, user.id), "123456", KEY, now=NOW)


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, False), (1, True), (2, False)])
def test_window_is_one_step_and_used_steps_never_return(database, user, enrolled, offset, accepted):
    # Enrolment used NOW's step, so even one step back is refused as already used.
    totp, _ = enrolled
    code = totp.at(NOW + timedelta(seconds=offset * STEP))
    if accepted:
        assert _verify(database, user, code) == "totp"
    else:
        with pytest.raises(InvalidCode):
            _verify(database, user, code)


def test_the_same_code_is_refused_twice(database, user, enrolled):
    totp, _ = enrolled
    later = NOW + timedelta(minutes=10)
    code = totp.at(later)
    assert _verify(database, user, code, later) == "totp"
    with pytest.raises(InvalidCode, match="already used"):
        _verify(database, user, code, later)
    assert _verify(database, user, totp.at(later + timedelta(seconds=STEP)), later + timedelta(seconds=STEP))


def test_recovery_codes_work_once_in_any_case_and_spacing(database, user, enrolled):
    _, codes = enrolled
    assert _verify(database, user, " " + codes[0].upper().replace("-", " ") + " ") == "recovery"
    with pytest.raises(InvalidCode, match="not valid"):
        _verify(database, user, codes[0])
    with database.read() as session:
        assert remaining_recovery_codes(session, session.get(User, user.id)) == RECOVERY_CODE_COUNT - 1


def test_regenerate_and_disable_need_the_password(database, user, enrolled):
    _, old = enrolled
    with database.write() as session, pytest.raises(WrongPassword):
        regenerate_recovery_codes(session, session.get(User, user.id), "wrong")
    with database.write() as session:
        new = regenerate_recovery_codes(session, session.get(User, user.id), "a long password")
    with pytest.raises(InvalidCode):
        _verify(database, user, old[1])
    assert _verify(database, user, new[1]) == "recovery"

    with database.write() as session, pytest.raises(WrongPassword):
        disable_totp(session, session.get(User, user.id), "wrong")
    with database.write() as session:
        disable_totp(session, session.get(User, user.id), "a long password")
    with database.read() as session:
        stored = session.get(User, user.id)
        assert (stored.totp_enabled, stored.totp_secret_sealed, stored.totp_last_step) == (False, None, None)
        assert session.scalars(select(RecoveryCode)).all() == []


def test_a_changed_instance_key_still_accepts_recovery_codes(database, user, enrolled):
    totp, codes = enrolled
    with database.write() as session:
        me = session.get(User, user.id)
        with pytest.raises(InvalidCode, match="ENVELOPE_SECRET_KEY changed"):
            verify_second_factor(session, me, totp.at(NOW + timedelta(seconds=STEP)), "new key", now=NOW)
    with database.write() as session:
        assert verify_second_factor(session, session.get(User, user.id), codes[0], "new key") == "recovery"
