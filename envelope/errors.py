"""Domain errors. The web layer maps each to a status code; the CLI prints the message."""
from __future__ import annotations


class EnvelopeError(Exception):
    """Root of every error Envelope raises on purpose; the message is for a person."""

    status = 400


class NotFound(EnvelopeError):
    status = 404


class Unauthorized(EnvelopeError):
    """Missing, unknown, revoked or expired credentials."""

    status = 401


class Forbidden(EnvelopeError):
    status = 403


class Conflict(EnvelopeError):
    status = 409


class InvalidInput(EnvelopeError):
    """A request field is malformed: a name, a version, a specifier, a digest."""

    status = 400


class InvalidDistribution(EnvelopeError):
    """The archive itself is unacceptable: bad filename, bad metadata, hostile members."""

    status = 400


class FileExists(EnvelopeError):
    """twine's --skip-existing looks for this message prefix: keep 'File already exists'."""

    status = 400


class FileTooLarge(EnvelopeError):
    status = 413


class StorageUnavailable(EnvelopeError):
    """The storage backend failed; nothing was published, the client may retry."""

    status = 503


class UpstreamError(EnvelopeError):
    """The upstream index of a proxying organization failed or sent bad bytes."""

    status = 502


class UpstreamBusy(EnvelopeError):
    """Too many upstream fetches are under way for this organization in this
    process; the client may retry shortly (pip does, on 503)."""

    status = 503
    retry_after = 5  # seconds


class MintRefused(EnvelopeError):
    """Trusted publishing refused to exchange an OIDC token: `code` is the
    machine-readable code PyPI uses for the same refusal, the message says
    what to fix."""

    status = 422

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
