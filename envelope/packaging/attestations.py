"""PEP 740 attestations: what an upload's `attestations` field must prove
before its file is published with a provenance object.

twine (`upload --attestations`) and `uv publish` send the field as a JSON
array of attestation objects, each a Sigstore-signed in-toto statement about
one distribution file. Envelope accepts the upload only when every
attestation verifies, offline, against the Sigstore public-good trust root
that the installed sigstore package embeds (no TUF refresh, no network):

- the signing certificate chains to Fulcio and was valid when the
  transparency log (or a timestamp authority) saw the signature;
- the certificate's SCT, the log entry's inclusion proof and signed
  checkpoint (or its inclusion promise) verify against the trust root's keys;
- the DSSE signature verifies with the certificate's key, and the log entry
  is the one for this envelope;
- the statement has exactly one subject whose name is this upload's filename
  (compared parsed, as pypi-attestations does) and whose sha256 is the
  uploaded bytes'; its predicate type is one PyPI knows;
- the signer is a CI identity Envelope can name as a PEP 740 publisher
  (GitHub Actions or GitLab CI), the same one for every attestation of the
  file; and where the project's publisher is known (a GitHub repository
  connection that names the project, or that has published it), the
  certificate's source repository is that repository.

What is not checked: the workflow file or environment (Envelope's
repository connections do not record them), and revocation (Sigstore has
none: certificates live minutes). A trust root newer than the installed
sigstore release is not fetched, so an attestation signed with keys Sigstore
introduced later fails until sigstore is upgraded.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import pydantic
import sigstore.errors
from cryptography import x509
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from pypi_attestations import Attestation, AttestationType, ConversionError
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from envelope.errors import InvalidInput
from envelope.models import AssetOutcome, File, Project, RepositoryConnection, SyncAsset, SyncRun

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
SIGSTORE_TUF_URL = "https://tuf-repo-cdn.sigstore.dev"  # names the trust root sigstore embeds
MAX_ATTESTATIONS = 8  # per file; PyPI accepts one per predicate type, and there are two

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_SOURCE_REPOSITORY_URI = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.12")
_BUILD_CONFIG_URI = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.18")


@dataclass(frozen=True)
class VerifiedProvenance:
    """The PEP 740 provenance object of one file, ready to store and serve."""

    publisher: dict[str, Any]
    attestations: list[dict[str, Any]]

    def document(self) -> dict[str, Any]:
        return {"version": 1, "attestation_bundles": [{"publisher": self.publisher, "attestations": self.attestations}]}

    def to_json(self) -> str:
        return json.dumps(self.document(), separators=(",", ":"))


def parse_attestations(raw: str) -> list[Attestation]:
    """The `attestations` upload field as attestation objects.

    Raises InvalidInput, naming what is wrong, when it is not JSON, not a
    non-empty array of at most MAX_ATTESTATIONS PEP 740 attestation objects,
    or names one predicate type twice."""
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidInput(f"The attestations field is not valid JSON: {e}.") from None
    if not isinstance(value, list) or not value:
        raise InvalidInput("The attestations field must be a non-empty JSON array of attestation objects.")
    if len(value) > MAX_ATTESTATIONS:
        raise InvalidInput(f"Too many attestations: {len(value)} (at most {MAX_ATTESTATIONS} per file).")
    attestations = []
    for index, item in enumerate(value):
        try:
            attestation = Attestation.model_validate(item)
            statement = attestation.statement
        except (pydantic.ValidationError, ValueError) as e:
            raise InvalidInput(
                f"Attestation {index} is not a PEP 740 attestation object: {_first_error(e)}."
            ) from None
        if not isinstance(statement, dict):
            raise InvalidInput(f"Attestation {index}'s statement is not an in-toto statement.")
        attestations.append(attestation)
    types = [a.statement.get("predicateType") for a in attestations]
    duplicates = sorted({str(t) for t in types if types.count(t) > 1})
    if duplicates:
        raise InvalidInput(f"More than one attestation of predicate type {duplicates[0]!r}.")
    return attestations


def known_repositories(session: Session, organization_id: int, normalized_name: str) -> list[str]:
    """The GitHub repositories (owner/repo, lowercased) known to publish this
    project: connections that name it, and connections whose releases have
    published one of its files. Empty when the project's publisher is unknown."""
    named = select(RepositoryConnection.full_name, RepositoryConnection.allowed_projects).where(
        RepositoryConnection.organization_id == organization_id
    )
    repositories = {name for name, allowed in session.execute(named) if normalized_name in (allowed or [])}
    published = (
        select(RepositoryConnection.full_name)
        .join(SyncRun, SyncRun.connection_id == RepositoryConnection.id)
        .join(SyncAsset, SyncAsset.run_id == SyncRun.id)
        .join(File, File.filename == SyncAsset.name)
        .join(Project, File.project_id == Project.id)
        .where(
            RepositoryConnection.organization_id == organization_id,
            Project.organization_id == organization_id,
            Project.normalized_name == normalized_name,
            or_(SyncAsset.outcome == AssetOutcome.published, SyncAsset.outcome == AssetOutcome.present),
        )
        .distinct()
    )
    repositories.update(session.scalars(published))
    return sorted(name.lower() for name in repositories)


def verify_attestations(
    attestations: list[Attestation], filename: str, sha256: str, repositories: Iterable[str] = ()
) -> VerifiedProvenance:
    """Verify every attestation against the file `filename` with digest
    `sha256` (see the module docstring for what that covers) and, when
    `repositories` is not empty, against those GitHub repositories.

    Returns the provenance to store. Raises InvalidInput with the reason of
    the first attestation that fails; nothing is fetched from the network."""
    repositories = [r.lower() for r in repositories]
    policy: _CIIssuer = _SourceRepositoryIn(repositories) if repositories else _CIIssuer()
    publishers = []
    for index, attestation in enumerate(attestations):
        try:
            bundle = attestation.to_bundle()
            _verifier().verify_dsse(bundle, policy)
        except ConversionError as e:
            raise InvalidInput(f"Attestation {index} is malformed: {e}.") from None
        except (sigstore.errors.Error, ValueError) as e:
            # Error covers every sigstore refusal (chain, SCT, log entry, DSSE,
            # malformed envelopes); ValueError what cryptography raises on bad keys.
            if policy.refused is not None:
                raise InvalidInput(f"Attestation {index} {policy.refused}") from None
            raise InvalidInput(f"Attestation {index} does not verify: {e}") from None
        _check_subject(index, attestation, filename, sha256)
        publishers.append(publisher_of(bundle.signing_certificate, index))
    if any(p != publishers[0] for p in publishers):
        raise InvalidInput("The attestations of one file must all be signed by the same publisher.")
    return VerifiedProvenance(
        publisher=publishers[0],
        attestations=[a.model_dump(mode="json") for a in attestations],
    )


def publisher_of(certificate: x509.Certificate, index: int = 0) -> dict[str, Any]:
    """The PEP 740 publisher a verified signing certificate names, in PyPI's
    shape. Raises InvalidInput for identities Envelope cannot name."""
    issuer = _extension(certificate, _ISSUER_V2)
    repository_uri = _extension(certificate, _SOURCE_REPOSITORY_URI) or ""
    build_config = _extension(certificate, _BUILD_CONFIG_URI) or ""
    if issuer == GITHUB_ISSUER and repository_uri.startswith("https://github.com/"):
        repository = repository_uri.removeprefix("https://github.com/")
        prefix = f"{repository_uri}/.github/workflows/"
        workflow = build_config.removeprefix(prefix).rpartition("@")[0] if build_config.startswith(prefix) else ""
        if workflow:
            return {"kind": "GitHub", "repository": repository, "workflow": workflow, "environment": None}
    if issuer == GITLAB_ISSUER and repository_uri.startswith("https://gitlab.com/"):
        repository = repository_uri.removeprefix("https://gitlab.com/")
        prefix = f"{repository_uri}//"
        path = build_config.removeprefix(prefix).rpartition("@")[0] if build_config.startswith(prefix) else ""
        if path:
            return {"kind": "GitLab", "repository": repository, "workflow_filepath": path, "environment": None}
    raise InvalidInput(
        f"Attestation {index} was signed by an identity Envelope cannot name as a publisher "
        f"(issuer {issuer!r}); attestations from GitHub Actions and GitLab CI are accepted."
    )


@lru_cache(maxsize=1)
def _verifier() -> Verifier:
    """One verifier per process, over the trust root the installed sigstore
    release embeds. sigstore's own `Verifier.production(offline=True)` would
    read whatever a user-writable cache directory holds instead."""
    path = resources.files("sigstore._store").joinpath(quote(SIGSTORE_TUF_URL, safe=""), "trusted_root.json")
    with resources.as_file(path) as trusted_root:
        return Verifier(trusted_root=TrustedRoot.from_file(str(trusted_root)))


def _check_subject(index: int, attestation: Attestation, filename: str, sha256: str) -> None:
    """The statement must be about this upload: one subject, this filename
    (parsed, so another spelling of the same name and version matches, as
    in pypi-attestations), these bytes, a predicate type PyPI knows."""
    statement = attestation.statement
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise InvalidInput(f"Attestation {index} must have exactly one subject.")
    subject = subjects[0]
    name = subject.get("name")
    if not isinstance(name, str) or _parsed(name) is None or _parsed(name) != _parsed(filename):
        raise InvalidInput(f"Attestation {index} is for {name!r}, not for the uploaded file {filename!r}.")
    digest = (subject.get("digest") or {}).get("sha256") if isinstance(subject.get("digest"), dict) else None
    if digest != sha256:
        raise InvalidInput(f"Attestation {index} is for other bytes than the uploaded {filename!r} (sha256 differs).")
    try:
        AttestationType(statement.get("predicateType"))
    except ValueError:
        raise InvalidInput(f"Attestation {index} has an unknown predicate type {statement.get('predicateType')!r}.") from None


def _parsed(filename: str) -> tuple[Any, ...] | None:
    try:
        if filename.endswith(".whl"):
            return tuple(parse_wheel_filename(filename))
        return tuple(parse_sdist_filename(filename))
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _extension(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    """A Fulcio claim (a DER UTF8String) as text, or None when absent."""
    try:
        value = certificate.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    der = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    # DER UTF8String: tag 0x0C, then a short or long form length.
    if len(der) < 2 or der[0] != 0x0C:
        return None
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(der[2:2 + count], "big"), 2 + count
    return der[offset:offset + length].decode("utf-8", errors="replace")


class _CIIssuer:
    """A sigstore verification policy: the certificate was issued for a CI
    workflow identity Envelope can name (GitHub Actions or GitLab CI). It
    remembers why it refused, so the upload's error can say it."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def verify(self, certificate: x509.Certificate) -> None:
        issuer = _extension(certificate, _ISSUER_V2)
        if issuer not in (GITHUB_ISSUER, GITLAB_ISSUER):
            self.refuse(
                f"was signed by an identity of issuer {issuer!r}; "
                "attestations from GitHub Actions and GitLab CI are accepted."
            )

    def refuse(self, reason: str) -> None:
        self.refused = reason
        raise sigstore.errors.VerificationError(reason)


class _SourceRepositoryIn(_CIIssuer):
    """Signed by GitHub Actions in one of these repositories (compared
    case-insensitively, as GitHub compares them): the project's known publisher."""

    def __init__(self, repositories: list[str]) -> None:
        super().__init__()
        self.repositories = repositories

    def verify(self, certificate: x509.Certificate) -> None:
        issuer = _extension(certificate, _ISSUER_V2)
        uri = _extension(certificate, _SOURCE_REPOSITORY_URI) or ""
        if issuer != GITHUB_ISSUER or uri.lower() not in {f"https://github.com/{r}" for r in self.repositories}:
            self.refuse(
                f"was not made by this project's publisher: it was signed for {uri or issuer!r}, "
                "and this project publishes from " + ", ".join(f"github.com/{r}" for r in self.repositories) + "."
            )


def _first_error(error: Exception) -> str:
    if isinstance(error, pydantic.ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "value"
        return f"{where}: {first.get('msg')}"
    return str(error)
