"""Secrets Envelope must use again later (GitHub tokens, webhook secrets,
upstream credentials) are sealed with Fernet under a key derived from
ENVELOPE_SECRET_KEY, so a copy of the database alone reveals none of them."""
from __future__ import annotations

import base64
import functools
from typing import TYPE_CHECKING

from envelope.errors import EnvelopeError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

_INFO = b"envelope: sealed repository secrets v1"


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    """Derived once per process: an upstream-proxied page unseals its
    organization's upstream credentials on every request. cryptography is
    imported here, on first use: an index with no sealed secret in use (no
    GitHub, no upstream credentials, no mail queued) never loads it, about
    6 MB per process (bench/README.md)."""
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def unseal(secret_key: str, sealed: str) -> str:
    fernet = _fernet(secret_key)
    from cryptography.fernet import InvalidToken  # loaded by _fernet

    try:
        return fernet.decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise EnvelopeError(
            "A stored secret cannot be decrypted: ENVELOPE_SECRET_KEY changed since it was saved; "
            "enter it again (remove and re-add the repository connection, or set the upstream URL again)."
        ) from None
