"""argon2id password hashing, with equal cost for unknown users."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
_DUMMY_HASH: str | None = None  # see _dummy_hash


def _dummy_hash() -> str:
    """Verified against when the user does not exist, so "no such user" and
    "wrong password" take the same time. Made on first use, not at import:
    a hash costs 64 MiB and 0.15 s, which every process importing this
    module (the CLI, the worker, each web worker) would otherwise pay."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("envelope-dummy-password")
    return _DUMMY_HASH


MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
