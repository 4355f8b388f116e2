"""Archive validation and core-metadata extraction for wheels and sdists.

Nothing is ever extracted to disk: archives are inspected member by member,
with every size bounded before it is read, so a hostile upload costs at most
a bounded amount of CPU and memory and changes nothing.
"""
from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from packaging.metadata import InvalidMetadata, Metadata, parse_email
from packaging.utils import canonicalize_name
from packaging.version import Version

from envelope.errors import InvalidDistribution
from envelope.names import MAX_NAME_LENGTH, DistributionFilename, check_length, check_version_length

MAX_METADATA_SIZE = 4 * 1024**2  # bytes; PyPI's longest descriptions are well under this
# Characters the releases table holds for these fields (envelope/models/packaging.py).
MAX_REQUIRES_PYTHON_LENGTH = 200
MAX_CONTENT_TYPE_LENGTH = 200
MAX_MEMBERS = 200_000
MAX_UNCOMPRESSED_TOTAL = 16 * 1024**3  # bytes
# Compression ratio beyond which an archive is taken for a bomb, once its
# content is big enough for the ratio to mean something.
MAX_COMPRESSION_RATIO = 100
RATIO_FREE_SIZE = 64 * 1024**2  # bytes of content below which any ratio is fine


@dataclass(frozen=True)
class DistributionInfo:
    """What the archive says about itself, checked against its filename."""

    name: str  # as the metadata spells it: the project's display name
    version: Version
    metadata_bytes: bytes  # served verbatim for PEP 658
    summary: str | None
    requires_python: str | None
    description: str | None
    description_content_type: str | None


def inspect_distribution(path: Path, expected: DistributionFilename) -> DistributionInfo:
    """Validate the archive at `path` and return its core metadata.

    Raises InvalidDistribution naming the first problem: unreadable archive,
    hostile member paths or links, bomb-like compression, missing or invalid
    metadata, or a name/version that disagrees with the filename.
    """
    archive_size = path.stat().st_size
    if expected.filename.endswith(".whl"):
        raw = _wheel_metadata(path, expected, archive_size)
    elif expected.filename.endswith(".zip"):
        raw = _zip_sdist_metadata(path, archive_size)
    else:
        raw = _tar_sdist_metadata(path, archive_size)
    return _parse_metadata(raw, expected)


def _check_member_path(name: str) -> PurePosixPath:
    """Refuse what would escape an extraction directory on any platform."""
    if "\x00" in name or "\\" in name:
        raise InvalidDistribution(f"Archive member has an invalid path: {name!r}.")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise InvalidDistribution(f"Archive member has an absolute path: {name!r}.")
    if ".." in path.parts:
        raise InvalidDistribution(f"Archive member escapes the archive with '..': {name!r}.")
    return path


def _check_ratio(total: int, archive_size: int) -> None:
    if total > MAX_UNCOMPRESSED_TOTAL:
        raise InvalidDistribution(
            f"Archive expands to more than {MAX_UNCOMPRESSED_TOTAL // 1024**3} GiB; refused."
        )
    if total > RATIO_FREE_SIZE and total > MAX_COMPRESSION_RATIO * max(archive_size, 1):
        raise InvalidDistribution(
            f"Archive compression ratio exceeds {MAX_COMPRESSION_RATIO}:1; refused as a "
            "likely zip bomb."
        )


def _open_zip(path: Path, archive_size: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidDistribution(f"Not a valid zip archive: {exc}.") from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        archive.close()
        raise InvalidDistribution(f"Archive has more than {MAX_MEMBERS} members; refused.")
    try:
        for info in infos:
            _check_member_path(info.filename)
        _check_ratio(sum(info.file_size for info in infos), archive_size)
    except InvalidDistribution:
        archive.close()
        raise
    return archive


def _read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_METADATA_SIZE:
        raise InvalidDistribution(
            f"{info.filename} is larger than {MAX_METADATA_SIZE // 1024**2} MiB; refused."
        )
    try:
        # ZipExtFile stops at the declared size and checks the CRC, so a
        # member that lies about its size cannot make this read grow.
        with archive.open(info) as member:
            return member.read(MAX_METADATA_SIZE + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise InvalidDistribution(f"Cannot read {info.filename}: {exc}.") from None


def _wheel_metadata(path: Path, expected: DistributionFilename, archive_size: int) -> bytes:
    with _open_zip(path, archive_size) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        dist_infos = {
            name.split("/", 1)[0]
            for name in infos
            if name.split("/", 1)[0].endswith(".dist-info") and "/" in name
        }
        if len(dist_infos) != 1:
            raise InvalidDistribution(
                f"Wheel must contain exactly one .dist-info directory, found {len(dist_infos)}."
            )
        dist_info = dist_infos.pop()
        dist_name, _, dist_version = dist_info[: -len(".dist-info")].rpartition("-")
        if canonicalize_name(dist_name) != expected.name or not _same_version(
            dist_version, expected.version
        ):
            raise InvalidDistribution(
                f"Wheel's {dist_info} directory does not match its filename "
                f"{expected.filename!r}."
            )
        for required in ("METADATA", "WHEEL"):
            if f"{dist_info}/{required}" not in infos:
                raise InvalidDistribution(f"Wheel has no {dist_info}/{required} file.")
        return _read_zip_member(archive, infos[f"{dist_info}/METADATA"])


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except ValueError:
        return False


def _find_pkg_info(names: list[str]) -> str:
    """The sdist's own PKG-INFO sits at TOP/PKG-INFO; vendored ones lie deeper."""
    tops = {name.split("/", 1)[0] for name in names if name}
    if len(tops) != 1:
        raise InvalidDistribution("Sdist must contain exactly one top-level directory.")
    candidate = f"{tops.pop()}/PKG-INFO"
    if candidate not in names:
        raise InvalidDistribution(f"Sdist has no {candidate} file.")
    return candidate


def _zip_sdist_metadata(path: Path, archive_size: int) -> bytes:
    with _open_zip(path, archive_size) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        return _read_zip_member(archive, infos[_find_pkg_info(list(infos))])


class _BoundedReader(io.RawIOBase):
    """Counts decompressed bytes so a gzip bomb is stopped while it inflates."""

    def __init__(self, stream: BinaryIO, archive_size: int) -> None:
        self._stream = stream
        self._archive_size = archive_size
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        self.total += len(data)
        _check_ratio(self.total, self._archive_size)
        buffer[: len(data)] = data
        return len(data)


def _tar_sdist_metadata(path: Path, archive_size: int) -> bytes:
    pkg_info: dict[str, bytes] = {}
    names: list[str] = []
    links: set[PurePosixPath] = set()
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as inflated:
            bounded = io.BufferedReader(_BoundedReader(inflated, archive_size), 1024 * 1024)
            with tarfile.open(fileobj=bounded, mode="r|") as archive:
                for member in archive:
                    if len(names) >= MAX_MEMBERS:
                        raise InvalidDistribution(
                            f"Archive has more than {MAX_MEMBERS} members; refused."
                        )
                    path = _check_tar_member(member, links)
                    names.append(str(path))
                    if member.isfile() and _is_top_level_pkg_info(path):
                        if member.size > MAX_METADATA_SIZE:
                            raise InvalidDistribution("PKG-INFO is larger than 4 MiB; refused.")
                        extracted = archive.extractfile(member)
                        assert extracted is not None
                        pkg_info[str(path)] = extracted.read(MAX_METADATA_SIZE + 1)
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile, ValueError) as exc:
        raise InvalidDistribution(f"Not a valid .tar.gz archive: {exc}.") from None
    candidate = _find_pkg_info(names)
    if candidate not in pkg_info:
        raise InvalidDistribution(f"Sdist's {candidate} is not a regular file.")
    return pkg_info[candidate]


def _is_top_level_pkg_info(path: PurePosixPath) -> bool:
    return len(path.parts) == 2 and path.parts[1] == "PKG-INFO"


def _check_tar_member(member: tarfile.TarInfo, links: set[PurePosixPath]) -> PurePosixPath:
    """Refuse members that could write or point outside an extraction directory.

    `links` holds the symlinks seen so far: a path through one of them could
    lead anywhere once extracted, so such paths are refused too."""
    path = _check_member_path(member.name)
    if _through_link(path, links):
        raise InvalidDistribution(f"Archive member {member.name!r} lies below a symbolic link.")
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        resolved = target if member.islnk() else path.parent / target
        if target.is_absolute() or _escapes(resolved) or _through_link(resolved, links):
            raise InvalidDistribution(
                f"Archive member {member.name!r} links outside the archive: {member.linkname!r}."
            )
        if member.issym():
            links.add(path)
    elif not (member.isfile() or member.isdir()):
        raise InvalidDistribution(f"Archive member {member.name!r} is a device or fifo; refused.")
    return path


def _through_link(path: PurePosixPath, links: set[PurePosixPath]) -> bool:
    return any(parent in links for parent in path.parents)


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return True
    return False


def _parse_metadata(raw: bytes, expected: DistributionFilename) -> DistributionInfo:
    """Validate what installers act on; tolerate the rest.

    Name, version, Metadata-Version and Requires-Python must be valid: pip
    acts on them. Other fields are read leniently, because real archives on
    PyPI carry fields newer than the Metadata-Version they declare (attrs
    23.2.0 has License-Expression under 2.1) and refusing them would make
    importing a PyPI mirror fail."""
    if not raw:
        raise InvalidDistribution("Distribution has no core metadata.")
    if len(raw) > MAX_METADATA_SIZE:
        raise InvalidDistribution("Core metadata is larger than 4 MiB; refused.")
    fields, _unknown = parse_email(raw)
    metadata = Metadata.from_raw(fields, validate=False)
    try:
        if "metadata_version" not in fields:
            raise InvalidMetadata("metadata_version", "Metadata-Version is missing")
        metadata.metadata_version  # noqa: B018  (attribute access validates the field)
        name, version = metadata.name, metadata.version
        requires_python = metadata.requires_python
    except InvalidMetadata as exc:
        raise InvalidDistribution(f"Invalid core metadata: {exc}.") from None
    if canonicalize_name(name) != expected.name:
        raise InvalidDistribution(
            f"Metadata name {name!r} does not match the filename {expected.filename!r}."
        )
    if version != expected.version:
        raise InvalidDistribution(
            f"Metadata version {version} does not match the filename {expected.filename!r}."
        )
    info = DistributionInfo(
        name=name,
        version=version,
        metadata_bytes=raw,
        summary=_lenient(metadata, "summary"),
        # As written (PEP 503/691), once packaging has checked that it parses.
        requires_python=fields["requires_python"].strip() if requires_python else None,
        description=_lenient(metadata, "description"),
        description_content_type=_lenient(metadata, "description_content_type"),
    )
    _check_field_lengths(info)
    return info


def _check_field_lengths(info: DistributionInfo) -> None:
    """Refuse values longer than their columns, before anything is stored.

    The metadata's own spelling counts: 'A...B' with many separators
    normalises to a short name, and 1.0.0.0… equals the filename's 1.0."""
    check_length("Name", info.name, MAX_NAME_LENGTH)
    check_version_length(info.version)
    check_length("Requires-Python", info.requires_python or "", MAX_REQUIRES_PYTHON_LENGTH)
    check_length(
        "Description-Content-Type", info.description_content_type or "", MAX_CONTENT_TYPE_LENGTH
    )


def _lenient(metadata: Metadata, field: str) -> str | None:
    """A display-only field: None when it does not validate."""
    try:
        value = getattr(metadata, field)
    except InvalidMetadata:
        return None
    return value if isinstance(value, str) else None
