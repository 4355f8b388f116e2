"""Distributions for tests: valid wheels and sdists, hostile archives, and a few real ones from PyPI.

Everything except ``download_real_wheels`` works offline. Wheels and the
hand-made tarballs are byte-for-byte reproducible (fixed timestamps, sorted
members), so calling a builder twice with the same arguments gives the same
sha256 -- which the immutability tests rely on ("same bytes again is a no-op",
"same filename with other bytes is refused").
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tests.services import CommandFailed, client_environ

ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)
TAR_EPOCH = 1577836800  # 2020-01-01T00:00:00Z

GiB = 1 << 30


# --------------------------------------------------------------------------- names


def escape_name(name: str) -> str:
    """Distribution name as spelled in wheel/sdist filenames and .dist-info dirs (binary distribution format)."""
    return canonicalize_name(name).replace("-", "_")


def module_name(name: str) -> str:
    """Importable top-level package name for a distribution name."""
    return escape_name(name)


def _filename_version(version: str) -> str:
    """Normalized version for a filename; invalid versions are kept as given (for negative tests)."""
    try:
        return str(Version(version)).replace("-", "_")
    except InvalidVersion:
        return version


def wheel_filename(name: str, version: str, tags: str = "py3-none-any") -> str:
    return f"{escape_name(name)}-{_filename_version(version)}-{tags}.whl"


def sdist_filename(name: str, version: str) -> str:
    return f"{escape_name(name)}-{_filename_version(version)}.tar.gz"


# --------------------------------------------------------------------------- wheels


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _zipinfo(name: str, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, so the permission bits above mean something
    return info


def _metadata_text(
    name: str,
    version: str,
    *,
    metadata_version: str,
    summary: str,
    requires_python: str | None,
    requires_dist: Iterable[str],
    extra_metadata: str,
) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    if summary:
        lines.append(f"Summary: {summary}")
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires_dist]
    text = "\n".join(lines) + "\n"
    if extra_metadata:
        text += extra_metadata if extra_metadata.endswith("\n") else extra_metadata + "\n"
    return text


def _wheel_text(tags: str) -> str:
    expanded = sorted(str(tag) for tag in parse_tag(tags))
    pure = all(tag.endswith("-none-any") for tag in expanded)
    lines = [
        "Wheel-Version: 1.0",
        "Generator: envelope-tests (1.0)",
        f"Root-Is-Purelib: {'true' if pure else 'false'}",
    ]
    lines += [f"Tag: {tag}" for tag in expanded]
    return "\n".join(lines) + "\n"


def _write_wheel_zip(path: Path, members: Mapping[str, bytes], dist_info: str | None) -> Path:
    """Write members (in order) plus a correct RECORD under ``dist_info`` when given."""
    record_lines = [f"{member},{_record_hash(data)},{len(data)}" for member, data in members.items()]
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(_zipinfo(member), data)
        if dist_info is not None:
            record_lines.append(f"{dist_info}/RECORD,,")
            zf.writestr(_zipinfo(f"{dist_info}/RECORD"), ("\n".join(record_lines) + "\n").encode())
    return path


def _wheel_members(
    name: str,
    version: str,
    *,
    tags: str,
    metadata: str,
    files: Mapping[str, bytes] | None,
    include_metadata: bool = True,
) -> tuple[dict[str, bytes], str]:
    dist_info = f"{escape_name(name)}-{_filename_version(version)}.dist-info"
    pkg = module_name(name)
    members: dict[str, bytes] = {
        f"{pkg}/__init__.py": f'"""Test package {name}."""\n__version__ = "{version}"\n'.encode()
    }
    for member, data in (files or {}).items():
        members[member] = data
    if include_metadata:
        members[f"{dist_info}/METADATA"] = metadata.encode()
    members[f"{dist_info}/WHEEL"] = _wheel_text(tags).encode()
    return members, dist_info


def make_wheel(
    directory: Path | str,
    name: str,
    version: str,
    *,
    tags: str = "py3-none-any",
    requires_python: str | None = None,
    summary: str = "A package built by the Envelope test suite",
    requires_dist: Iterable[str] = (),
    extra_metadata: str = "",
    files: Mapping[str, bytes] | None = None,
    metadata_version: str = "2.1",
    filename: str | None = None,
) -> Path:
    """Build a valid, installable wheel: ``{pkg}/__init__.py``, METADATA, WHEEL (one Tag line per
    expanded tag) and a RECORD with correct hashes and sizes.

    ``files`` adds or replaces members (pass different bytes to get "same filename,
    other content"); ``filename`` forces a filename that may disagree with the metadata.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = _metadata_text(
        name, version, metadata_version=metadata_version, summary=summary,
        requires_python=requires_python, requires_dist=requires_dist, extra_metadata=extra_metadata,
    )  # fmt: skip
    members, dist_info = _wheel_members(name, version, tags=tags, metadata=metadata, files=files)
    path = directory / (filename or wheel_filename(name, version, tags))
    return _write_wheel_zip(path, members, dist_info)


def wheel_metadata(path: Path | str) -> bytes:
    """The METADATA bytes of a wheel, i.e. what ``{file URL}.metadata`` must serve (PEP 658)."""
    with zipfile.ZipFile(path) as zf:
        (member,) = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return zf.read(member)


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_of_installed(name: str, directory: Path | str) -> Path:
    """Pack the distribution ``name`` installed in this interpreter back into a wheel in ``directory``.

    An isolated build (``python -m build``, as a CI workflow runs it) installs
    its build backend into a fresh environment; with ``PIP_NO_INDEX`` and
    ``PIP_FIND_LINKS`` pointing here it takes this wheel, so the build runs
    offline with the very setuptools the suite already uses. The installed
    RECORD lists the wheel's files; compiled ``.pyc`` files are left out.
    """
    from importlib import metadata

    dist = metadata.distribution(name)
    wheel_file = dist.read_text("WHEEL") or ""
    tags = [line.partition(":")[2].strip() for line in wheel_file.splitlines() if line.startswith("Tag:")]
    path = Path(directory) / wheel_filename(dist.metadata["Name"], dist.version, tags[0] if tags else "py3-none-any")
    members: dict[str, bytes] = {}
    for file in dist.files or ():
        if file.suffix == ".pyc" or file.parts[0] == ".." or file.name == "RECORD":
            continue
        members[file.as_posix()] = Path(str(file.locate())).read_bytes()
    dist_info = next(member.split("/")[0] for member in members if member.split("/")[0].endswith(".dist-info"))
    return _write_wheel_zip(path, members, dist_info)


# --------------------------------------------------------------------------- sdists


def make_sdist(directory: Path | str, name: str, version: str, *, requires_python: str | None = None) -> Path:
    """Build a real sdist of a one-module setuptools project with ``python -m build --sdist --no-isolation``.

    Slower (about a second) and not byte-reproducible, but produced by the same
    tooling our users run; use ``make_sdist_raw`` when speed or stable bytes matter.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pkg = module_name(name)
    with tempfile.TemporaryDirectory(prefix="envelope-sdist-") as tmp:
        src = Path(tmp)
        requires = f'requires-python = "{requires_python}"\n' if requires_python else ""
        (src / "pyproject.toml").write_text(
            textwrap.dedent(
                f"""\
                [build-system]
                requires = ["setuptools>=61"]
                build-backend = "setuptools.build_meta"

                [project]
                name = "{name}"
                version = "{version}"
                description = "A package built by the Envelope test suite"
                """
            )
            + requires
            + f'\n[tool.setuptools]\npy-modules = ["{pkg}"]\n'
        )
        (src / f"{pkg}.py").write_text(f'__version__ = "{version}"\n')
        before = set(directory.glob("*.tar.gz"))
        env = client_environ()
        env["SOURCE_DATE_EPOCH"] = str(TAR_EPOCH)
        result = subprocess.run(
            [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(directory), str(src)],
            env=env, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise CommandFailed(result.returncode, result.args, result.stdout, result.stderr)
    expected = directory / sdist_filename(name, version)
    if expected.exists():
        return expected
    new = sorted(set(directory.glob("*.tar.gz")) - before)
    if len(new) != 1:
        raise RuntimeError(f"python -m build produced {new!r}, expected {expected.name}:\n{result.stdout}")
    return new[0]


def _pkg_info(name: str, version: str, *, metadata_version: str = "2.1", requires_python: str | None = None) -> bytes:
    text = f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n"
    text += "Summary: A package built by the Envelope test suite\n"
    if requires_python:
        text += f"Requires-Python: {requires_python}\n"
    return text.encode()


def _tar_member(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = TAR_EPOCH
    info.mode = 0o777 if kind == tarfile.SYMTYPE else 0o644
    info.uname = info.gname = "root"
    if kind == tarfile.REGTYPE:
        info.size = len(data)
    else:
        info.linkname = linkname
    return info, data


def _write_tar_gz(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """Reproducible .tar.gz (fixed gzip mtime, members as given)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buf.getvalue())
    return path


def make_sdist_raw(
    directory: Path | str,
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    metadata_version: str = "2.1",
    pkg_info: bytes | None = None,
    extra_members: Iterable[tuple[tarfile.TarInfo, bytes]] = (),
    filename: str | None = None,
) -> Path:
    """A hand-made, reproducible, pip-installable sdist (PKG-INFO, pyproject.toml, one module), in milliseconds."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{escape_name(name)}-{_filename_version(version)}"
    pkg = module_name(name)
    requires = f'requires-python = "{requires_python}"\n' if requires_python else ""
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n{requires}\n'
        f'[tool.setuptools]\npy-modules = ["{pkg}"]\n'
    ).encode()
    info = pkg_info if pkg_info is not None else _pkg_info(
        name, version, metadata_version=metadata_version, requires_python=requires_python
    )
    members = [
        _tar_member(f"{base}/PKG-INFO", info),
        _tar_member(f"{base}/pyproject.toml", pyproject),
        _tar_member(f"{base}/{pkg}.py", f'__version__ = "{version}"\n'.encode()),
        *extra_members,
    ]
    return _write_tar_gz(directory / (filename or f"{base}.tar.gz"), members)


# --------------------------------------------------------------------------- hostile archives


def make_zip_slip_wheel(directory: Path | str, name: str = "zipslip", version: str = "1.0") -> Path:
    """An otherwise valid wheel with a member ``../../evil.py`` that escapes any extraction dir."""
    return make_wheel(directory, name, version, files={"../../evil.py": b"print('escaped')\n"})


def make_absolute_path_wheel(directory: Path | str, name: str = "abspath", version: str = "1.0") -> Path:
    """An otherwise valid wheel with an absolute member path ``/etc/evil``."""
    return make_wheel(directory, name, version, files={"/etc/evil": b"owned\n"})


# sha256 of N zero bytes, precomputed for the default size (hashing 2 GiB takes a second).
_ZEROS_SHA256 = {2 * GiB: "a7c744c13cc101ed66c29f672f92455547889cc586ce6d44fe76ae824958ea51"}


def make_zip_bomb_wheel(
    directory: Path | str, name: str = "zipbomb", version: str = "1.0", *, uncompressed_size: int = 2 * GiB
) -> Path:
    """A wheel whose ``{pkg}/data.bin`` inflates to ``uncompressed_size`` zero bytes (default 2 GiB) from ~2 MB.

    The deflate stream is one compressed 16 MiB block of zeros repeated: after a
    full flush the compressor's state is reset, so each block compresses to the
    same bytes. CRC and sizes are correct, so only a size limit catches it.
    Takes well under a second. The RECORD hash is correct for the default size.
    """
    if not 0 < uncompressed_size < 0xFFFFFFFF:
        raise ValueError("uncompressed_size must fit in 32 bits (no zip64)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chunk_size = 16 << 20
    full, rest = divmod(uncompressed_size, chunk_size)
    zeros = bytes(chunk_size)

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail_block = compressor.compress(zeros[:rest]) if rest else b""
    tail_block += compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(full):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(zeros[:rest], crc)
    compressed_size = len(block) * full + len(tail_block)

    pkg = module_name(name)
    bomb_name = f"{pkg}/data.bin"
    metadata = _metadata_text(
        name, version, metadata_version="2.1", summary="zip bomb", requires_python=None,
        requires_dist=(), extra_metadata="",
    )  # fmt: skip
    members, dist_info = _wheel_members(name, version, tags="py3-none-any", metadata=metadata, files=None)
    sha = _ZEROS_SHA256.get(uncompressed_size)
    bomb_hash = (
        "sha256=" + base64.urlsafe_b64encode(bytes.fromhex(sha)).rstrip(b"=").decode() if sha else "sha256=unknown"
    )
    record = [f"{m},{_record_hash(d)},{len(d)}" for m, d in members.items()]
    record += [f"{bomb_name},{bomb_hash},{uncompressed_size}", f"{dist_info}/RECORD,,"]
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    # Hand-written zip: zipfile cannot store pre-compressed data.
    def bomb_chunks() -> Iterator[bytes]:
        for _ in range(full):
            yield block
        yield tail_block

    entries: list[tuple[str, int, int, int, Iterable[bytes]]] = [
        _deflated(f"{pkg}/__init__.py", members.pop(f"{pkg}/__init__.py")),
        (bomb_name, crc, compressed_size, uncompressed_size, bomb_chunks()),
        *(_deflated(member, data) for member, data in members.items()),
    ]
    path = directory / wheel_filename(name, version)
    _write_raw_zip(path, entries)
    return path


def _deflated(member: str, data: bytes) -> tuple[str, int, int, int, Iterable[bytes]]:
    """(name, crc, compressed size, size, compressed chunks) of one member for ``_write_raw_zip``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    return member, zlib.crc32(data), len(packed), len(data), [packed]


def _write_raw_zip(path: Path, entries: Iterable[tuple[str, int, int, int, Iterable[bytes]]]) -> None:
    """Minimal zip writer for already-deflated data: local headers, central directory, end record."""
    dos_time, dos_date = 0, (2020 - 1980) << 9 | 1 << 5 | 1
    central: list[bytes] = []
    with open(path, "wb") as out:
        for member, crc32, csize, usize, chunks in entries:
            encoded = member.encode()
            offset = out.tell()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc32, csize, usize,
                                  len(encoded), 0))  # fmt: skip
            out.write(encoded)
            for chunk in chunks:
                out.write(chunk)
            central.append(
                struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, 0, 8, dos_time, dos_date, crc32, csize,
                            usize, len(encoded), 0, 0, 0, 0, 0o644 << 16, offset)  # fmt: skip
                + encoded
            )
        cd_offset = out.tell()
        for header in central:
            out.write(header)
        cd_size = out.tell() - cd_offset
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), cd_size, cd_offset, 0))


def make_wheel_without_metadata(directory: Path | str, name: str = "nometa", version: str = "1.0") -> Path:
    """A wheel with WHEEL and RECORD but no ``.dist-info/METADATA``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    members, dist_info = _wheel_members(
        name, version, tags="py3-none-any", metadata="", files=None, include_metadata=False
    )
    return _write_wheel_zip(directory / wheel_filename(name, version), members, dist_info)


def make_wheel_with_mismatched_name(
    directory: Path | str, name: str = "claimed-name", version: str = "1.0", *, metadata_name: str = "actual-name"
) -> Path:
    """A wheel named ``claimed_name-1.0-...`` whose METADATA says ``Name: actual-name``."""
    return make_wheel(directory, metadata_name, version, filename=wheel_filename(name, version))


def make_not_a_zip(directory: Path | str, filename: str = "notazip-1.0-py3-none-any.whl") -> Path:
    """Random-looking bytes under a distribution filename."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_bytes(b"This is not a zip archive nor a tarball.\n" + hashlib.sha256(filename.encode()).digest() * 64)
    return path


def make_tar_slip_sdist(directory: Path | str, name: str = "tarslip", version: str = "1.0") -> Path:
    """An sdist with a valid PKG-INFO and a member ``../evil`` that escapes the extraction dir."""
    return make_sdist_raw(directory, name, version, extra_members=[_tar_member("../evil", b"escaped\n")])


def make_tar_symlink_sdist(
    directory: Path | str, name: str = "tarsymlink", version: str = "1.0", *, target: str = "/etc/passwd"
) -> Path:
    """An sdist with a valid PKG-INFO and a symlink member ``{base}/evil-link`` pointing outside the archive."""
    base = f"{escape_name(name)}-{_filename_version(version)}"
    link = _tar_member(f"{base}/evil-link", kind=tarfile.SYMTYPE, linkname=target)
    return make_sdist_raw(directory, name, version, extra_members=[link])


def make_sdist_bad_metadata_version(directory: Path | str, name: str = "badmetaver", version: str = "1.0") -> Path:
    """An sdist whose PKG-INFO declares ``Metadata-Version: 9.9``."""
    return make_sdist_raw(directory, name, version, metadata_version="9.9")


# --------------------------------------------------------------------------- real distributions


# Small pure-Python wheels pinned to exact versions, plus one real sdist.
REAL_WHEELS: dict[str, str] = {
    "six==1.16.0": "six-1.16.0-py2.py3-none-any.whl",
    "idna==3.7": "idna-3.7-py3-none-any.whl",
    "attrs==23.2.0": "attrs-23.2.0-py3-none-any.whl",
    "iniconfig==2.0.0": "iniconfig-2.0.0-py3-none-any.whl",
}
REAL_SDISTS: dict[str, str] = {"six==1.16.0": "six-1.16.0.tar.gz"}


def download_real_wheels(cache_dir: Path | str) -> list[Path]:
    """Download a few real distributions from PyPI into ``cache_dir`` (once; later calls reuse them).

    pip runs with the machine's find-links and config files disabled so the
    bytes really come from PyPI. The sdist is fetched without build isolation
    (using the venv's setuptools) so no build dependencies are downloaded.
    A lock file keeps parallel test workers from downloading at the same time.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = [(spec, fn, False) for spec, fn in REAL_WHEELS.items()] + [
        (spec, fn, True) for spec, fn in REAL_SDISTS.items()
    ]
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [(spec, fn, sdist) for spec, fn, sdist in wanted if not (cache_dir / fn).is_file()]
        if missing:
            env = client_environ()
            with tempfile.TemporaryDirectory(prefix="envelope-dl-", dir=cache_dir) as tmp:
                for want_sdist in (False, True):
                    specs = [spec for spec, _, sdist in missing if sdist is want_sdist]
                    if not specs:
                        continue
                    kind = ["--no-binary", ":all:", "--no-build-isolation"] if want_sdist else ["--only-binary", ":all:"]
                    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                            "--index-url", "https://pypi.org/simple/", *kind, "-d", tmp, *specs]  # fmt: skip
                    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=300)
                    if result.returncode != 0:
                        raise CommandFailed(result.returncode, argv, result.stdout, result.stderr)
                for _, fn, _ in missing:
                    source = Path(tmp) / fn
                    if not source.is_file():
                        raise RuntimeError(f"pip download did not produce {fn}; got {sorted(os.listdir(tmp))}")
                    shutil.move(source, cache_dir / fn)  # same filesystem: an atomic rename
    return [cache_dir / fn for _, fn, _ in wanted]


# A real PyPI file with real PEP 740 attestations. PyPI published
# pypi_attestations-0.0.19.tar.gz from trailofbits/pypi-attestations' release.yml
# with trusted publishing and a publish attestation; the pypi-attestations
# 0.0.30 sdist ships, among its test assets, that attestation and the
# provenance object PyPI's integrity endpoint served for the file. Both
# archives come from PyPI by their pinned sha256, so the bytes are PyPI's.
ATTESTED_DIST = "pypi_attestations-0.0.19.tar.gz"
ATTESTED_PUBLISHER = {"kind": "GitHub", "repository": "trailofbits/pypi-attestations",
                      "workflow": "release.yml", "environment": None}
_ATTESTED_DOWNLOADS = {
    # project on PyPI, filename, sha256
    ATTESTED_DIST: ("pypi-attestations", "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"),
    "pypi_attestations-0.0.30.tar.gz": (
        "pypi-attestations", "14ff13c76bbef02a483c2b77532da02bfd746b5141b881f355e06b9807434423",
    ),
}
_ASSETS = "pypi_attestations-0.0.30/test/assets/"


def download_real_attestations(cache_dir: Path | str) -> dict[str, Path]:
    """The attested real file, its publish attestation and PyPI's provenance
    for it, downloaded from PyPI into ``cache_dir``/attested once.

    Returns {"dist", "attestation", "provenance"} -> path. The attestation
    is named as twine and uv look for it: ``<dist>.publish.attestation``."""
    import requests  # a dev dependency; imported here so the offline builders need none

    folder = Path(cache_dir) / "attested"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "dist": folder / ATTESTED_DIST,
        "attestation": folder / f"{ATTESTED_DIST}.publish.attestation",
        "provenance": folder / f"{ATTESTED_DIST}.provenance",
    }
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(p.is_file() for p in paths.values()):
            return paths
        fetched: dict[str, bytes] = {}
        for filename, (project, sha256) in _ATTESTED_DOWNLOADS.items():
            page = requests.get(f"https://pypi.org/simple/{project}/", timeout=60,
                                headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            page.raise_for_status()
            (url,) = [f["url"] for f in page.json()["files"] if f["filename"] == filename]
            body = requests.get(url, timeout=120).content
            if hashlib.sha256(body).hexdigest() != sha256:
                raise RuntimeError(f"{filename} from PyPI does not have the pinned sha256 {sha256}")
            fetched[filename] = body
        with tarfile.open(fileobj=io.BytesIO(fetched["pypi_attestations-0.0.30.tar.gz"]), mode="r:gz") as tar:
            assets = {
                "attestation": tar.extractfile(_ASSETS + f"{ATTESTED_DIST}.publish.attestation").read(),
                "provenance": tar.extractfile(_ASSETS + f"{ATTESTED_DIST}.provenance").read(),
            }
        for key, body in (("dist", fetched[ATTESTED_DIST]), *assets.items()):
            partial = paths[key].with_suffix(".part")
            partial.write_bytes(body)
            partial.replace(paths[key])  # complete files only: a crash leaves no half one
    return paths
