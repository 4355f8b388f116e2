"""publish_file: the one way a file enters the index.

Twine uploads, GitHub sync and bulk import all call it, so validation,
immutability and visibility are the same whatever the source. The order of
steps is what makes a crash safe: bytes are spooled, verified and stored
first; only then does one transaction insert the rows that make the file
visible. A crash before the commit leaves at most an unreferenced blob.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.orgs.identity import Caller
from envelope.db import Database
from envelope.lifecycle.collector import claim_for_publish
from envelope.packaging.distributions import DistributionInfo, inspect_distribution
from envelope.errors import FileExists, FileTooLarge, InvalidInput
from envelope.storage.media_types import METADATA_CONTENT_TYPE, content_type
from envelope.models import (
    DeletedFilename,
    File,
    FileProvenance,
    FileSource,
    Organization,
    Project,
    ProjectStatus,
    Release,
)
from envelope.models.packaging import metadata_key
from envelope.quotas import check_storage
from envelope.names import (
    DistributionFilename,
    canonical_version,
    check_publishable,
    filename_key,
    parse_filename,
)
from envelope.packaging.project_status import check_accepts_uploads, refuse_closed_upload
from envelope.packaging.readme import StoredReadme, prepare_readme, store_readme
from envelope.storage import Storage, content_addressed_key

if TYPE_CHECKING:
    from envelope.packaging.attestations import VerifiedProvenance

CHUNK = 1024 * 1024  # bytes read per step while spooling


def _pep740() -> ModuleType:
    """envelope.packaging.attestations, imported when an upload carries
    attestations: it brings sigstore, pydantic and boto3 (about 50 MB that
    every web and worker process would otherwise hold)."""
    from envelope.packaging import attestations

    return attestations


@dataclass(frozen=True)
class Digests:
    sha256: str
    blake2b_256: str
    md5: str
    size: int


@dataclass(frozen=True)
class VerifiedFile:
    """Bytes that are stored and checked: all that remains is to record them."""

    parsed: DistributionFilename
    filename_key: str  # envelope.names.filename_key(parsed)
    info: DistributionInfo
    digests: Digests
    key: str  # where the bytes are stored
    readme: StoredReadme  # rendered (or queued) outside the transaction
    provenance: VerifiedProvenance | None = None  # from verified PEP 740 attestations


@dataclass(frozen=True)
class PublishResult:
    file: File
    created: bool  # False when the same bytes were already published: a no-op


def publish_file(
    db: Database,
    storage: Storage,
    *,
    organization: Organization,
    principal: Caller,
    filename: str,
    stream: BinaryIO,
    source: FileSource,
    spool_dir: Path,
    max_size: int,
    expected: dict[str, str] | None = None,
    attestations: str | None = None,
) -> PublishResult:
    """Validate, store and index one distribution file.

    `expected` maps digest names (sha256, blake2b_256, md5) to the hex digests
    the sender claims. Raises Forbidden (principal may not publish this
    name/version), FileTooLarge, InvalidInput (digest mismatch),
    InvalidDistribution (filename, archive or metadata, or a field longer
    than the index stores, a local version, a malformed wheel tag),
    FileExists (a published file with other bytes or another spelling of the
    filename, or a deleted one in any spelling), Forbidden (the project is
    archived or quarantined, PEP 792). Publishing the same bytes
    under the same filename again returns the existing file with created=False.

    `attestations` is the PEP 740 upload field (a JSON array of attestation
    objects): each must verify against these bytes and filename, and against
    the project's known publisher (envelope.packaging.attestations); else
    InvalidInput, before anything is stored. The provenance they make is
    recorded with the file, once: a no-op re-upload keeps what the file had.
    """
    parsed = parse_filename(filename)
    check_publishable(parsed)
    key = filename_key(parsed)
    principal.check_upload(parsed.name, parsed.version)
    claimed = _pep740().parse_attestations(attestations) if attestations is not None else None
    with db.read() as session:
        _refuse_deleted_filename(session, organization.id, filename, key)
        repositories = _pep740().known_repositories(session, organization.id, parsed.name) if claimed else []
    fd, spool_name = tempfile.mkstemp(dir=spool_dir, prefix="upload-", suffix=".part")
    spool = Path(spool_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digests = _spool(stream, out, max_size)
        _check_expected_digests(digests, expected or {})
        provenance = _pep740().verify_attestations(claimed, filename, digests.sha256, repositories) if claimed else None
        with db.read() as session:
            existing = _existing_file(session, organization.id, filename, key)
            if existing is not None:
                return PublishResult(_same_or_clash(existing, filename, digests), created=False)
            # PEP 792: archived and quarantined projects take nothing new (the same bytes
            # again stay a no-op above, so a re-polled GitHub release is not a failure).
            refuse_closed_upload(session, organization.id, parsed.name)
            check_storage(session, organization.id, digests.size)  # 413 naming the limit and the usage
        info = inspect_distribution(spool, parsed)
        storage_key = content_addressed_key(digests.sha256, filename)
        if not storage.exists(storage_key):
            storage.put_file(storage_key, spool, content_type=content_type(filename))
        storage.put_bytes(metadata_key(storage_key), info.metadata_bytes, content_type=METADATA_CONTENT_TYPE)
        readme = prepare_readme(info.description, info.description_content_type)
        verified = VerifiedFile(parsed, key, info, digests, storage_key, readme, provenance)
        return _record(db, organization, principal, verified, source, _Restore(storage, spool, filename, info))
    finally:
        spool.unlink(missing_ok=True)


STALE_SPOOL_AGE = 3600.0  # seconds; an upload spool untouched this long was abandoned


def remove_stale_spool_files(spool_dir: Path, *, older_than: float = STALE_SPOOL_AGE) -> int:
    """Delete spool files a killed process left behind; returns how many.

    Only files untouched for `older_than` seconds go, so an upload or import
    still running in another process keeps its file."""
    cutoff = time.time() - older_than
    removed = 0
    for path in spool_dir.glob("upload-*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _spool(stream: BinaryIO, out: BinaryIO, max_size: int) -> Digests:
    """Copy to disk while hashing: one pass, constant memory."""
    sha256, blake2b, md5 = hashlib.sha256(), hashlib.blake2b(digest_size=32), hashlib.md5()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > max_size:
            raise FileTooLarge(
                f"File too large. Limit for this index is {_human(max_size)} ({max_size} bytes)."
            )
        sha256.update(chunk)
        blake2b.update(chunk)
        md5.update(chunk)
        out.write(chunk)
    if size == 0:
        raise InvalidInput("The uploaded file is empty.")
    return Digests(sha256.hexdigest(), blake2b.hexdigest(), md5.hexdigest(), size)


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.4g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _check_expected_digests(digests: Digests, expected: dict[str, str]) -> None:
    for name, claimed in expected.items():
        actual = getattr(digests, name)
        claimed = claimed.strip().lower()
        if len(claimed) != len(actual) or any(c not in "0123456789abcdef" for c in claimed):
            raise InvalidInput(f"The {name} digest supplied is not a hex digest.")
        if not hmac.compare_digest(actual, claimed):
            raise InvalidInput(
                f"The {name} digest supplied does not match the digest of the uploaded file."
            )


def _refuse_deleted_filename(session: Session, organization_id: int, filename: str, key: str) -> None:
    """A deleted file's name is burned in every spelling: its key is compared."""
    deleted = session.scalar(
        select(DeletedFilename.filename)
        .where(DeletedFilename.organization_id == organization_id, DeletedFilename.filename_key == key)
        .order_by(DeletedFilename.filename != filename, DeletedFilename.id)
        .limit(1)
    )
    if deleted == filename:
        raise FileExists(
            f"File already exists: {filename!r} was deleted and its name cannot be reused; "
            "publish a new version."
        )
    if deleted is not None:
        raise FileExists(
            f"File already exists: {filename!r} names the same file as the deleted {deleted!r}, "
            "whose name cannot be reused; publish a new version."
        )


def _existing_file(session: Session, organization_id: int, filename: str, key: str) -> File | None:
    """The published file with this filename key, the exact spelling first
    (rows from before keys existed may share one)."""
    return session.scalar(
        select(File)
        .join(Project, File.project_id == Project.id)
        .where(Project.organization_id == organization_id, File.filename_key == key)
        .order_by(File.filename != filename, File.id)
        .limit(1)
    )


def _same_or_clash(existing: File, filename: str, digests: Digests) -> File:
    """The tri-state rule: same filename and bytes is a no-op; anything else
    under the same identity is refused. Another spelling is refused even with
    the same bytes, as PyPI does: one file has one name, which pip caches by."""
    if existing.filename != filename:
        raise FileExists(
            f"File already exists: {filename!r} names the same file as {existing.filename!r}, "
            "which is already published; files are immutable, publish a new version."
        )
    if hmac.compare_digest(existing.sha256, digests.sha256):
        return existing
    raise FileExists(
        f"File already exists: {existing.filename!r} was published with different content; "
        "files are immutable, publish a new version."
    )


@dataclass(frozen=True)
class _Restore:
    """What it takes to store the bytes again, should the collector have
    removed them since they were stored (envelope/lifecycle/collector.py)."""

    storage: Storage
    spool: Path
    filename: str
    info: DistributionInfo

    def ensure_stored(self, session: Session, key: str) -> None:
        """In the recording transaction: take the key from the collector (it
        waits for a collector holding it), then store again whatever one removed
        meanwhile. Both objects are checked: this publish's own writes may have
        fallen between a collector's two deletions."""
        claim_for_publish(session, key)
        if not self.storage.exists(key):
            self.storage.put_file(key, self.spool, content_type=content_type(self.filename))
        if not self.storage.exists(metadata_key(key)):
            self.storage.put_bytes(metadata_key(key), self.info.metadata_bytes, content_type=METADATA_CONTENT_TYPE)


def _record(
    db: Database,
    organization: Organization,
    principal: Caller,
    verified: VerifiedFile,
    source: FileSource,
    restore: _Restore,
) -> PublishResult:
    """Insert the rows in one transaction. A concurrent publish of the same
    name can win the unique constraints; then the second attempt sees its
    rows and answers with the tri-state rule like any duplicate."""
    for attempt in range(3):
        try:
            with db.write() as session:
                filename = verified.parsed.filename
                existing = _existing_file(session, organization.id, filename, verified.filename_key)
                if existing is not None:
                    return PublishResult(_same_or_clash(existing, filename, verified.digests), created=False)
                restore.ensure_stored(session, verified.key)
                file = _insert(session, organization, principal, verified, source)
            return PublishResult(file, created=True)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _insert(
    session: Session,
    organization: Organization,
    principal: Caller,
    verified: VerifiedFile,
    source: FileSource,
) -> File:
    parsed, info, digests = verified.parsed, verified.info, verified.digests
    project = session.scalar(
        select(Project).where(
            Project.organization_id == organization.id, Project.normalized_name == parsed.name
        )
    )
    if project is None:
        project = Project(organization_id=organization.id, name=info.name, normalized_name=parsed.name)
        session.add(project)
        org = session.get(Organization, organization.id)
        assert org is not None
        org.serial += 1
        session.flush()
        record_event(session, organization.id, principal.label, AuditAction.project_create, info.name)
    else:  # checked again here: the status may have changed while the bytes were stored
        check_accepts_uploads(project.name, ProjectStatus(project.status), project.status_reason)
    version_key = canonical_version(parsed.version)
    release = session.scalar(
        select(Release).where(
            Release.project_id == project.id, Release.canonical_version == version_key
        )
    )
    if release is None:
        release = Release(
            project_id=project.id,
            version=str(info.version),
            canonical_version=version_key,
            summary=(info.summary or "")[:512] or None,
            requires_python=info.requires_python,
            description=info.description,
            description_content_type=info.description_content_type,
        )
        session.add(release)
        session.flush()
        store_readme(session, release, verified.readme)
    file = File(
        project_id=project.id,
        release_id=release.id,
        filename=parsed.filename,
        filename_key=verified.filename_key,
        packagetype=parsed.packagetype,
        python_version=parsed.python_version,
        size=digests.size,
        sha256=digests.sha256,
        blake2b_256=digests.blake2b_256,
        md5=digests.md5,
        requires_python=info.requires_python,
        metadata_sha256=hashlib.sha256(info.metadata_bytes).hexdigest(),
        metadata_size=len(info.metadata_bytes),
        storage_key=verified.key,
        source=source,
        uploaded_by=principal.label,
    )
    session.add(file)
    project.serial += 1
    session.flush()
    if verified.provenance is not None:
        session.add(FileProvenance(file_id=file.id, provenance=verified.provenance.to_json()))
    record_event(
        session,
        organization.id,
        principal.label,
        AuditAction.file_publish,
        parsed.filename,
        project=project.name,
        version=str(info.version),
        sha256=digests.sha256,
        source=source.value,
        **({"attested": True} if verified.provenance is not None else {}),
    )
    return file
