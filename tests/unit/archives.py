"""Small, reproducible archives for the unit tests: wheels, sdists and hostile ones.

Deliberately independent of tests/builders.py so the unit suite needs nothing
but the standard library. Fixed timestamps make every archive byte-for-byte
reproducible: building the same thing twice gives the same sha256.
"""
from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Iterable, Mapping

ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)
TAR_EPOCH = 1577836800  # seconds: 2020-01-01T00:00:00Z

WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: envelope-unit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def core_metadata(
    name: str,
    version: str,
    *,
    metadata_version: str = "2.1",
    summary: str | None = None,
    requires_python: str | None = None,
    body: str = "",
) -> bytes:
    """A METADATA / PKG-INFO file; `body` becomes the description after a blank line."""
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    if summary is not None:
        lines.append(f"Summary: {summary}")
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    text = "\n".join(lines) + "\n"
    if body:
        text += "\n" + body
    return text.encode()


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    """A deflated zip with `members` in order, reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def wheel_members(
    name: str = "demo",
    version: str = "1.0",
    *,
    metadata: bytes | None = None,
    module: bytes = b"VALUE = 1\n",
    dist_info: str | None = None,
) -> dict[str, bytes]:
    """The members of a minimal valid wheel; callers add, drop or replace some."""
    dist_info = dist_info or f"{name.replace('-', '_')}-{version}.dist-info"
    return {
        f"{name.replace('-', '_').lower()}/__init__.py": module,
        f"{dist_info}/METADATA": metadata if metadata is not None else core_metadata(name, version),
        f"{dist_info}/WHEEL": WHEEL_FILE,
        f"{dist_info}/RECORD": b"",
    }


def wheel_bytes(name: str = "demo", version: str = "1.0", **kwargs) -> bytes:
    return zip_bytes(wheel_members(name, version, **kwargs))


def wheel_filename(name: str = "demo", version: str = "1.0", tags: str = "py3-none-any") -> str:
    return f"{name.replace('-', '_')}-{version}-{tags}.whl"


# --------------------------------------------------------------------------- tar


def tar_file(name: str, data: bytes = b"") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = TAR_EPOCH
    info.mode = 0o644
    return info, data


def tar_dir(name: str) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mtime = TAR_EPOCH
    info.mode = 0o755
    return info, None


def tar_link(name: str, target: str, *, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mtime = TAR_EPOCH
    return info, None


def tar_special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    """A device or fifo member (tarfile.CHRTYPE, BLKTYPE, FIFOTYPE)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = TAR_EPOCH
    return info, None


def tar_gz_bytes(members: Iterable[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def sdist_members(
    name: str = "demo", version: str = "1.0", *, metadata: bytes | None = None, top: str | None = None
) -> dict[str, bytes]:
    top = top or f"{name}-{version}"
    return {
        f"{top}/PKG-INFO": metadata if metadata is not None else core_metadata(name, version),
        f"{top}/pyproject.toml": b"[project]\nname = 'demo'\n",
    }


def sdist_tar_gz(name: str = "demo", version: str = "1.0", **kwargs) -> bytes:
    members = sdist_members(name, version, **kwargs)
    return tar_gz_bytes(tar_file(path, data) for path, data in members.items())


def sdist_zip(name: str = "demo", version: str = "1.0", **kwargs) -> bytes:
    return zip_bytes(sdist_members(name, version, **kwargs))
