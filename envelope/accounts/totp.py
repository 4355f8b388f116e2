"""Two-factor authentication: TOTP (RFC 6238) codes plus single-use recovery codes.

The TOTP secret is sealed with the instance key (envelope.sealing), so a
copy of the database alone cannot mint codes. A code is accepted within one
time step either side of now, and never for a time step already used
(User.totp_last_step), so an overheard code cannot be replayed. Recovery
codes have 80 random bits each and are stored as SHA-256 digests.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from envelope.audit import AuditAction, record_event
from envelope.orgs.identity import bump_user_epochs
from envelope.errors import Conflict, EnvelopeError, InvalidInput
from envelope.models import RecoveryCode, User
from envelope.models.base import utcnow
from envelope.accounts.users import require_password
from envelope.sealing import seal, unseal

ISSUER = "Envelope"
STEP = 30  # seconds per TOTP code
WINDOW = 1  # steps accepted either side of now, for clock drift and typing time
DIGITS = 6
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: no 0/1/8/9 to misread
_RECOVERY_LENGTH = 16  # characters, 5 bits each: 80 bits


class InvalidCode(InvalidInput):
    """The code is wrong, expired, already used, or not a code at all."""


class UndecryptableSecret(EnvelopeError):
    """The sealed TOTP secret no longer opens: the instance key changed."""


@dataclass(frozen=True)
class Enrolment:
    """What the set-up page shows: the secret for manual entry, the otpauth:// URI, its QR code."""

    secret: str
    uri: str
    qr_svg: str  # an <svg> element, safe to inline: made here from the URI alone

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _actor(user: User) -> str:
    return f"user {user.username}"


def _enrolment(secret: str, user: User) -> Enrolment:
    import pyotp

    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    uri = totp.provisioning_uri(name=user.username, issuer_name=ISSUER)
    # qrcode (and its image modules) only here: an enrolment is rare, and
    # every web process imports this module.
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    return Enrolment(secret, uri, image.to_string(encoding="unicode"))


def _secret(user: User, secret_key: str) -> str:
    if user.totp_secret_sealed is None:
        raise InvalidCode("Two-factor authentication is not set up for this account.")
    try:
        return unseal(secret_key, user.totp_secret_sealed)
    except EnvelopeError:
        raise UndecryptableSecret(
            "Two-factor codes cannot be checked because the instance's ENVELOPE_SECRET_KEY changed: "
            "sign in with a recovery code, then set up two-factor authentication again."
        ) from None


def start_enrolment(session: Session, user: User, secret_key: str) -> Enrolment:
    """Give `user` a new, not yet enabled, secret (replacing an unconfirmed one).
    Conflict when two-factor authentication is already on."""
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already on; turn it off first to use a new device.")
    import pyotp

    secret = pyotp.random_base32()
    user.totp_secret_sealed = seal(secret_key, secret)
    user.totp_last_step = None
    return _enrolment(secret, user)


def pending_enrolment(user: User, secret_key: str) -> Enrolment | None:
    """The started but unconfirmed enrolment, to show again; None when there is none."""
    if user.totp_enabled or user.totp_secret_sealed is None:
        return None
    try:
        return _enrolment(_secret(user, secret_key), user)
    except UndecryptableSecret:
        return None


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    import pyotp  # only for accounts with two-factor authentication, like qrcode in _enrolment

    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int(now.timestamp()) // STEP
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Record `step` as used unless it (or a later one) already was; of two
    concurrent logins with one code, only one wins this update."""
    claimed = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed == 1:
        set_committed_value(user, "totp_last_step", step)
    return claimed == 1


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_digest(raw)))
    return codes


def _recovery_digest(code: str) -> str:
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def confirm_enrolment(
    session: Session, user: User, code: str, secret_key: str, now: datetime | None = None
) -> list[str]:
    """Turn two-factor authentication on once `code` proves the device has the
    secret; returns the recovery codes, which exist in clear only now.
    InvalidCode when the code does not match."""
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already on.")
    step = _matching_step(_secret(user, secret_key), code, now or utcnow())
    if step is None or not _claim_step(session, user, step):
        raise InvalidCode("That code does not match: check the device's clock and enter the current code.")
    user.totp_enabled = True
    bump_user_epochs(session, user.id)  # a password alone no longer opens the index
    codes = _new_recovery_codes(session, user)
    record_event(session, None, _actor(user), AuditAction.user_2fa_enable, user.username)
    return codes


def verify_second_factor(
    session: Session, user: User, code: str, secret_key: str, now: datetime | None = None
) -> str:
    """Check a TOTP code or, failing that, a recovery code (which is then used
    up). Returns "totp" or "recovery"; InvalidCode otherwise."""
    if not user.totp_enabled:
        raise InvalidCode("Two-factor authentication is not set up for this account.")
    undecryptable = None
    try:
        step = _matching_step(_secret(user, secret_key), code, now or utcnow())
    except UndecryptableSecret as exc:
        step, undecryptable = None, exc
    if step is not None:
        if _claim_step(session, user, step):
            return "totp"
        raise InvalidCode("That code was already used; wait for the next one.")
    if _use_recovery_code(session, user, code):
        record_event(session, None, _actor(user), AuditAction.user_recovery_code_used, user.username)
        return "recovery"
    if undecryptable is not None:
        raise InvalidCode(str(undecryptable))
    raise InvalidCode("That code is not valid. Enter the current code from your app, or a recovery code.")


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    used = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_digest(code),
            RecoveryCode.used.is_(None),
        )
        .values(used=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return used == 1


def remaining_recovery_codes(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used.is_(None)
        )
    ) or 0


def regenerate_recovery_codes(session: Session, user: User, password: str) -> list[str]:
    """Replace every recovery code (the old ones stop working); needs the password."""
    require_password(user, password)
    if not user.totp_enabled:
        raise Conflict("Two-factor authentication is off: there are no recovery codes to replace.")
    codes = _new_recovery_codes(session, user)
    record_event(session, None, _actor(user), AuditAction.user_recovery_codes_regenerate, user.username)
    return codes


def disable_totp(session: Session, user: User, password: str) -> None:
    """Turn two-factor authentication off and forget the secret and recovery codes; needs the password."""
    require_password(user, password)
    was_enabled = user.totp_enabled
    user.totp_enabled = False
    user.totp_secret_sealed = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if was_enabled:
        record_event(session, None, _actor(user), AuditAction.user_2fa_disable, user.username)
