from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from packaging.version import Version

from envelope.packaging import distributions
from envelope.packaging.distributions import (
    MAX_CONTENT_TYPE_LENGTH,
    MAX_METADATA_SIZE,
    MAX_REQUIRES_PYTHON_LENGTH,
    inspect_distribution,
)
from envelope.errors import InvalidDistribution
from envelope.models import Release
from envelope.names import parse_filename
from tests.unit.archives import (
    core_metadata,
    sdist_members,
    sdist_tar_gz,
    sdist_zip,
    tar_dir,
    tar_file,
    tar_gz_bytes,
    tar_link,
    tar_special,
    wheel_bytes,
    wheel_members,
    zip_bytes,
)

WHEEL = "demo-1.0-py3-none-any.whl"
TAR_GZ = "demo-1.0.tar.gz"
ZIP = "demo-1.0.zip"
DIST_INFO = "demo-1.0.dist-info"
ZEROS = bytes(8 * 1024**2)  # deflates to a few KiB: a ratio far above 100:1


def inspect(tmp_path: Path, filename: str, data: bytes):
    path = tmp_path / filename
    path.write_bytes(data)
    return inspect_distribution(path, parse_filename(filename))


def refused(tmp_path: Path, filename: str, data: bytes) -> str:
    with pytest.raises(InvalidDistribution) as caught:
        inspect(tmp_path, filename, data)
    assert caught.value.status == 400
    return str(caught.value)


def wheel_with(*, drop: tuple[str, ...] = (), **extra: bytes) -> bytes:
    """A demo-1.0 wheel minus the `drop` members plus the `extra` ones."""
    members = wheel_members("demo", "1.0")
    for name in drop:
        del members[name]
    members.update(extra)
    return zip_bytes(members)


# --------------------------------------------------------------------------- valid archives


def test_valid_wheel(tmp_path):
    metadata = core_metadata(
        "Demo",
        "1.0",
        summary="A demo package",
        requires_python=">=3.8",
        body="Long *description*\n\n  keeps   its   spacing\n",
    )
    info = inspect(tmp_path, WHEEL, wheel_bytes("demo", "1.0", metadata=metadata))
    assert info.name == "Demo"  # the display name, as the metadata spells it
    assert info.version == Version("1.0")
    assert info.metadata_bytes == metadata  # verbatim, for PEP 658
    assert info.summary == "A demo package"
    assert info.requires_python == ">=3.8"
    assert info.description == "Long *description*\n\n  keeps   its   spacing\n"


@pytest.mark.parametrize("written", [">=2.7, !=3.0.*", ">=3.8,<4", "~= 3.9"])
def test_requires_python_is_kept_as_written(tmp_path, written):
    """PEP 503/691: the index serves the metadata's field as written, not
    packaging's re-serialisation (which would reorder '>=2.7, !=3.0.*')."""
    metadata = core_metadata("demo", "1.0", requires_python=written)
    info = inspect(tmp_path, WHEEL, wheel_bytes("demo", "1.0", metadata=metadata))
    assert info.requires_python == written


def test_valid_wheel_without_optional_fields(tmp_path):
    info = inspect(tmp_path, WHEEL, wheel_bytes())
    assert (info.summary, info.requires_python, info.description) == (None, None, None)


@pytest.mark.parametrize(
    ("filename", "dist_info", "metadata_name", "metadata_version", "display"),
    [
        ("demo_pkg-1.0-py3-none-any.whl", "demo_pkg-1.0.dist-info", "Demo_Pkg", "1.0", "Demo_Pkg"),
        ("demo_pkg-1.0-py3-none-any.whl", "Demo.Pkg-1.0.dist-info", "demo.pkg", "1.0", "demo.pkg"),
        # Versions agree by PEP 440 equality, not by spelling.
        ("demo-1.0-py3-none-any.whl", "demo-1.0.0.dist-info", "demo", "1.0.0", "demo"),
        ("demo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", "demo-1.0.dist-info", "demo", "1.0", "demo"),
    ],
)
def test_wheel_names_and_versions_compare_normalized(tmp_path, filename, dist_info, metadata_name, metadata_version, display):
    data = zip_bytes(
        {
            f"{dist_info}/METADATA": core_metadata(metadata_name, metadata_version),
            f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\n",
        }
    )
    assert inspect(tmp_path, filename, data).name == display


@pytest.mark.parametrize("metadata_version", ["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4"])
def test_known_metadata_versions_are_accepted(tmp_path, metadata_version):
    metadata = core_metadata("demo", "1.0", metadata_version=metadata_version)
    assert inspect(tmp_path, WHEEL, wheel_bytes(metadata=metadata)).metadata_bytes == metadata


def test_valid_tar_gz_sdist(tmp_path):
    metadata = core_metadata("Demo", "1.0", summary="Sdist summary", requires_python=">=3.10")
    info = inspect(tmp_path, TAR_GZ, sdist_tar_gz("demo", "1.0", metadata=metadata))
    assert (info.name, info.version, info.summary, info.requires_python) == (
        "Demo",
        Version("1.0"),
        "Sdist summary",
        ">=3.10",
    )
    assert info.metadata_bytes == metadata


def test_valid_zip_sdist(tmp_path):
    metadata = core_metadata("Demo", "1.0", summary="Zipped")
    info = inspect(tmp_path, ZIP, sdist_zip("demo", "1.0", metadata=metadata))
    assert (info.name, info.version, info.summary) == ("Demo", Version("1.0"), "Zipped")
    assert info.metadata_bytes == metadata


def test_tar_sdist_reads_its_own_pkg_info_not_a_vendored_one(tmp_path):
    data = tar_gz_bytes(
        [
            tar_dir("demo-1.0"),
            tar_file("demo-1.0/vendor/other-2.0/PKG-INFO", core_metadata("other", "2.0")),
            tar_file("demo-1.0/PKG-INFO", core_metadata("demo", "1.0", summary="mine")),
        ]
    )
    assert inspect(tmp_path, TAR_GZ, data).summary == "mine"


@pytest.mark.parametrize(
    "link",
    [
        tar_link("demo-1.0/link", "pyproject.toml"),
        tar_link("demo-1.0/sub/link", "../pyproject.toml"),
        tar_link("demo-1.0/hard", "demo-1.0/pyproject.toml", kind=tarfile.LNKTYPE),
    ],
    ids=["symlink-sibling", "symlink-up-inside", "hardlink-inside"],
)
def test_tar_links_inside_the_archive_are_fine(tmp_path, link):
    members = [tar_file(name, data) for name, data in sdist_members().items()] + [link]
    assert inspect(tmp_path, TAR_GZ, tar_gz_bytes(members)).name == "demo"


# --------------------------------------------------------------------------- hostile wheels


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../evil.py", "escapes the archive with '..': '../evil.py'"),
        ("demo/../../evil.py", "escapes the archive with '..'"),
        (f"{DIST_INFO}/../../evil.py", "escapes the archive with '..'"),
        ("/etc/cron.d/evil", "absolute path: '/etc/cron.d/evil'"),
        ("C:/Windows/evil.dll", "absolute path"),
        ("C:evil.dll", "absolute path"),
        ("demo\\evil.py", "invalid path: 'demo\\\\evil.py'"),
        ("..\\evil.py", "invalid path"),
    ],
)
def test_wheel_with_hostile_member_path(tmp_path, member, message):
    data = zip_bytes({**wheel_members(), member: b"boom"})
    assert message in refused(tmp_path, WHEEL, data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            wheel_with(**{"other-1.0.dist-info/METADATA": core_metadata("other", "1.0")}),
            "Wheel must contain exactly one .dist-info directory, found 2.",
            id="two-dist-infos",
        ),
        pytest.param(
            zip_bytes({"demo/__init__.py": b""}),
            "Wheel must contain exactly one .dist-info directory, found 0.",
            id="no-dist-info",
        ),
        pytest.param(
            wheel_bytes("demo", "1.0", dist_info="other-1.0.dist-info"),
            "Wheel's other-1.0.dist-info directory does not match its filename 'demo-1.0-py3-none-any.whl'.",
            id="dist-info-name-mismatch",
        ),
        pytest.param(
            wheel_bytes("demo", "1.0", dist_info="demo-2.0.dist-info"),
            "Wheel's demo-2.0.dist-info directory does not match its filename",
            id="dist-info-version-mismatch",
        ),
        pytest.param(
            wheel_bytes("demo", "1.0", dist_info="demo-notaversion.dist-info"),
            "does not match its filename",
            id="dist-info-version-invalid",
        ),
        pytest.param(
            wheel_bytes("demo", "1.0", dist_info="demo.dist-info"),
            "does not match its filename",
            id="dist-info-without-version",
        ),
        pytest.param(
            wheel_with(drop=(f"{DIST_INFO}/METADATA",)),
            f"Wheel has no {DIST_INFO}/METADATA file.",
            id="missing-METADATA",
        ),
        pytest.param(
            wheel_with(drop=(f"{DIST_INFO}/WHEEL",)),
            f"Wheel has no {DIST_INFO}/WHEEL file.",
            id="missing-WHEEL",
        ),
        pytest.param(
            wheel_bytes(metadata=core_metadata("other", "1.0")),
            "Metadata name 'other' does not match the filename 'demo-1.0-py3-none-any.whl'.",
            id="metadata-name-mismatch",
        ),
        pytest.param(
            wheel_bytes(metadata=core_metadata("demo", "1.1")),
            "Metadata version 1.1 does not match the filename 'demo-1.0-py3-none-any.whl'.",
            id="metadata-version-mismatch",
        ),
        pytest.param(
            wheel_bytes(metadata=core_metadata("demo", "1.0", metadata_version="9.9")),
            "Invalid core metadata",
            id="unsupported-metadata-version",
        ),
        pytest.param(
            wheel_bytes(metadata=b"Metadata-Version: 2.1\nName: demo\n"),
            "Invalid core metadata",
            id="metadata-without-version",
        ),
        pytest.param(
            wheel_bytes(metadata=b"Metadata-Version: 2.1\nName: demo\nVersion: one-point-oh\n"),
            "Invalid core metadata",
            id="metadata-invalid-version",
        ),
        pytest.param(
            wheel_bytes(metadata=b"Metadata-Version: 2.1\nVersion: 1.0\n"),
            "Invalid core metadata",
            id="metadata-without-name",
        ),
        pytest.param(
            wheel_bytes(metadata=b"Name: demo\nVersion: 1.0\n"),
            "Invalid core metadata",
            id="metadata-without-metadata-version",
        ),
        pytest.param(
            wheel_bytes(metadata=core_metadata("demo", "1.0", requires_python=">=3.8;nonsense")),
            "Invalid core metadata",
            id="metadata-invalid-requires-python",
        ),
        pytest.param(
            wheel_bytes(metadata=b""),
            "Distribution has no core metadata.",
            id="empty-metadata",
        ),
        pytest.param(
            b"MZ\x90\x00 this is a Windows executable, not a zip",
            "Not a valid zip archive",
            id="not-a-zip",
        ),
        pytest.param(b"", "Not a valid zip archive", id="empty-file"),
        pytest.param(wheel_bytes()[:200], "Not a valid zip archive", id="truncated-zip"),
    ],
)
def test_wheel_refused(tmp_path, data, message):
    assert message in refused(tmp_path, WHEEL, data)


def test_unsupported_metadata_version_message_names_it(tmp_path):
    message = refused(tmp_path, WHEEL, wheel_bytes(metadata=core_metadata("demo", "1.0", metadata_version="9.9")))
    assert "9.9" in message


def test_oversized_metadata_is_refused_before_it_is_read(tmp_path):
    metadata = core_metadata("demo", "1.0", body="x" * (MAX_METADATA_SIZE + 1))
    message = refused(tmp_path, WHEEL, wheel_bytes(metadata=metadata))
    assert message == f"{DIST_INFO}/METADATA is larger than 4 MiB; refused."


def test_metadata_at_the_limit_is_fine(tmp_path):
    header = core_metadata("demo", "1.0")
    metadata = header + b"\n" + b"x" * (MAX_METADATA_SIZE - len(header) - 1)
    assert len(metadata) == MAX_METADATA_SIZE
    assert inspect(tmp_path, WHEEL, wheel_bytes(metadata=metadata)).metadata_bytes == metadata


LONG_SPECIFIER = ",".join(f"!=3.{i}.*" for i in range(30))  # valid, 239 characters


def _with_header(metadata: bytes, header: str) -> bytes:
    return metadata.replace(b"\n", f"\n{header}\n".encode(), 1)


@pytest.mark.parametrize(
    ("filename", "metadata", "message"),
    [
        # Name and version equal the filename's once normalised, yet are longer than their columns.
        ("d_emo-1.0-py3-none-any.whl", core_metadata("d" + "-" * 200 + "emo", "1.0"),
         "Name is longer than 200 characters"),
        (WHEEL, core_metadata("demo", "1" + ".0" * 60), "Version is longer than 100 characters"),
        (WHEEL, core_metadata("demo", "1.0", requires_python=LONG_SPECIFIER),
         "Requires-Python is longer than 200 characters"),
        (WHEEL, _with_header(core_metadata("demo", "1.0"),
                             "Description-Content-Type: text/markdown; charset=UTF-8; x=" + "a" * 200),
         "Description-Content-Type is longer than 200 characters"),
    ],
)
def test_metadata_fields_longer_than_their_columns_are_refused(tmp_path, filename, metadata, message):
    dist_info = filename.split("-py3")[0] + ".dist-info"
    data = wheel_bytes("d-emo" if filename.startswith("d_emo") else "demo", "1.0", metadata=metadata,
                       dist_info=dist_info)
    assert message in refused(tmp_path, filename, data)


def test_metadata_fields_at_their_limits_are_fine(tmp_path):
    specifier = LONG_SPECIFIER[:MAX_REQUIRES_PYTHON_LENGTH].rsplit(",", 1)[0]
    content_type = "text/markdown; charset=UTF-8; x="
    content_type += "a" * (MAX_CONTENT_TYPE_LENGTH - len(content_type))
    metadata = _with_header(core_metadata("demo", "1.0", requires_python=specifier),
                            f"Description-Content-Type: {content_type}")
    info = inspect(tmp_path, WHEEL, wheel_bytes(metadata=metadata))
    assert info.requires_python and info.description_content_type == content_type


def test_metadata_length_limits_are_the_column_sizes():
    assert Release.requires_python.type.length == MAX_REQUIRES_PYTHON_LENGTH
    assert Release.description_content_type.type.length == MAX_CONTENT_TYPE_LENGTH


def _corrupt(data: bytes, after: bytes) -> bytes:
    """The archive with 30 bytes of garbage shortly after the first occurrence of `after`."""
    out = bytearray(data)
    start = out.index(after) + len(after)
    out[start + 10 : start + 40] = b"\xff" * 30
    return bytes(out)


def test_tar_gz_with_corrupt_deflate_stream_is_refused(tmp_path):
    data = _corrupt(sdist_tar_gz(metadata=core_metadata("demo", "1.0", body="y" * 5000)), b"\x1f\x8b")
    assert refused(tmp_path, TAR_GZ, data).startswith("Not a valid .tar.gz archive: ")


def test_zip_member_with_corrupt_data_is_refused(tmp_path):
    # The first "METADATA" is the member's local header; its deflated data follows.
    data = _corrupt(wheel_bytes(metadata=core_metadata("demo", "1.0", body="y" * 5000)), b"METADATA")
    assert refused(tmp_path, WHEEL, data).startswith(f"Cannot read {DIST_INFO}/METADATA: ")


# --------------------------------------------------------------------------- hostile sdists


def _sdist_plus(*extra) -> bytes:
    members = [tar_file(name, data) for name, data in sdist_members().items()]
    return tar_gz_bytes(members + list(extra))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(_sdist_plus(tar_file("../evil", b"x")), "escapes the archive with '..'", id="dotdot-member"),
        pytest.param(_sdist_plus(tar_file("demo-1.0/../../evil", b"x")), "escapes the archive", id="nested-dotdot"),
        pytest.param(_sdist_plus(tar_file("/etc/passwd", b"x")), "absolute path: '/etc/passwd'", id="absolute-member"),
        pytest.param(_sdist_plus(tar_file("demo-1.0\\evil", b"x")), "invalid path", id="backslash-member"),
        pytest.param(
            _sdist_plus(tar_link("demo-1.0/link", "../../etc/passwd")),
            "Archive member 'demo-1.0/link' links outside the archive: '../../etc/passwd'.",
            id="symlink-outside",
        ),
        pytest.param(
            _sdist_plus(tar_link("demo-1.0/link", "/etc/passwd")),
            "links outside the archive: '/etc/passwd'",
            id="symlink-absolute",
        ),
        pytest.param(
            _sdist_plus(tar_link("demo-1.0/a/b/link", "../../../../x")),
            "links outside the archive",
            id="symlink-deep-outside",
        ),
        pytest.param(
            _sdist_plus(tar_link("demo-1.0/hard", "../x", kind=tarfile.LNKTYPE)),
            "Archive member 'demo-1.0/hard' links outside the archive: '../x'.",
            id="hardlink-dotdot",
        ),
        pytest.param(
            _sdist_plus(tar_link("demo-1.0/hard", "/etc/shadow", kind=tarfile.LNKTYPE)),
            "links outside the archive: '/etc/shadow'",
            id="hardlink-absolute",
        ),
        pytest.param(
            _sdist_plus(tar_special("demo-1.0/tty", tarfile.CHRTYPE)),
            "Archive member 'demo-1.0/tty' is a device or fifo; refused.",
            id="char-device",
        ),
        pytest.param(
            _sdist_plus(tar_special("demo-1.0/sda", tarfile.BLKTYPE)), "is a device or fifo", id="block-device"
        ),
        pytest.param(
            _sdist_plus(tar_special("demo-1.0/pipe", tarfile.FIFOTYPE)), "is a device or fifo", id="fifo"
        ),
        pytest.param(sdist_tar_gz()[:-40], "Not a valid .tar.gz archive", id="truncated-gzip"),
        pytest.param(sdist_tar_gz()[:30], "Not a valid .tar.gz archive", id="gzip-header-only"),
        pytest.param(b"plain text, not gzip", "Not a valid .tar.gz archive", id="not-gzip"),
        pytest.param(b"", "Not a valid .tar.gz archive: empty file.", id="empty-file"),
        pytest.param(
            tar_gz_bytes([tar_file("demo-1.0/pyproject.toml", b"")]),
            "Sdist has no demo-1.0/PKG-INFO file.",
            id="no-pkg-info",
        ),
        pytest.param(
            tar_gz_bytes([tar_file("demo-1.0/vendor/PKG-INFO", core_metadata("demo", "1.0"))]),
            "Sdist has no demo-1.0/PKG-INFO file.",
            id="only-nested-pkg-info",
        ),
        pytest.param(
            _sdist_plus(tar_file("stray.txt", b"x")),
            "Sdist must contain exactly one top-level directory.",
            id="two-top-levels",
        ),
        pytest.param(
            tar_gz_bytes([tar_link("demo-1.0/PKG-INFO", "pyproject.toml"), tar_file("demo-1.0/pyproject.toml")]),
            "Sdist's demo-1.0/PKG-INFO is not a regular file.",
            id="pkg-info-symlink",
        ),
        pytest.param(
            sdist_tar_gz(metadata=core_metadata("other", "1.0")),
            "Metadata name 'other' does not match the filename 'demo-1.0.tar.gz'.",
            id="pkg-info-name-mismatch",
        ),
        pytest.param(
            sdist_tar_gz(metadata=core_metadata("demo", "2.0")),
            "Metadata version 2.0 does not match",
            id="pkg-info-version-mismatch",
        ),
        pytest.param(
            sdist_tar_gz(metadata=core_metadata("demo", "1.0", metadata_version="9.9")),
            "Invalid core metadata",
            id="pkg-info-unsupported-metadata-version",
        ),
        pytest.param(sdist_tar_gz(metadata=b""), "Distribution has no core metadata.", id="pkg-info-empty"),
        pytest.param(
            sdist_tar_gz(metadata=core_metadata("demo", "1.0", body="x" * (MAX_METADATA_SIZE + 1))),
            "PKG-INFO is larger than 4 MiB; refused.",
            id="pkg-info-oversized",
        ),
    ],
)
def test_tar_sdist_refused(tmp_path, data, message):
    assert message in refused(tmp_path, TAR_GZ, data)


def test_uncompressed_tar_named_tar_gz_is_refused(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("demo-1.0/PKG-INFO")
        metadata = core_metadata("demo", "1.0")
        info.size = len(metadata)
        archive.addfile(info, io.BytesIO(metadata))
    assert "Not a valid .tar.gz archive" in refused(tmp_path, TAR_GZ, raw.getvalue())


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({**sdist_members(), "../evil": b"x"}, "escapes the archive with '..'"),
        ({**sdist_members(), "/abs": b"x"}, "absolute path"),
        ({"demo-1.0/pyproject.toml": b""}, "Sdist has no demo-1.0/PKG-INFO file."),
        ({**sdist_members(), "other-1.0/PKG-INFO": b""}, "exactly one top-level directory"),
        (sdist_members(metadata=core_metadata("demo", "3.0")), "Metadata version 3.0 does not match"),
    ],
)
def test_zip_sdist_refused(tmp_path, members, message):
    assert message in refused(tmp_path, ZIP, zip_bytes(members))


def test_zip_sdist_that_is_not_a_zip(tmp_path):
    assert "Not a valid zip archive" in refused(tmp_path, ZIP, sdist_tar_gz())


# --------------------------------------------------------------------------- bombs and limits


@pytest.fixture
def small_ratio_threshold(monkeypatch):
    """Let a few MiB of zeros count as a bomb, so the test archive stays small and fast."""
    monkeypatch.setattr(distributions, "RATIO_FREE_SIZE", 1024**2)
    monkeypatch.setattr(distributions, "MAX_COMPRESSION_RATIO", 100)


BOMB_MESSAGE = "Archive compression ratio exceeds 100:1; refused as a likely zip bomb."


def test_zip_bomb_wheel_is_refused(tmp_path, small_ratio_threshold):
    data = wheel_with(**{"demo/zeros.bin": ZEROS})
    assert len(data) * 100 < len(ZEROS)
    assert refused(tmp_path, WHEEL, data) == BOMB_MESSAGE


def test_zip_bomb_sdist_is_refused(tmp_path, small_ratio_threshold):
    data = zip_bytes({**sdist_members(), "demo-1.0/zeros.bin": ZEROS})
    assert refused(tmp_path, ZIP, data) == BOMB_MESSAGE


def test_gzip_bomb_sdist_is_refused(tmp_path, small_ratio_threshold):
    members = [tar_file("demo-1.0/zeros.bin", ZEROS)] + [
        tar_file(name, data) for name, data in sdist_members().items()
    ]
    data = tar_gz_bytes(members)
    assert len(data) * 100 < len(ZEROS)
    assert refused(tmp_path, TAR_GZ, data) == BOMB_MESSAGE


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        (WHEEL, wheel_with(**{"demo/zeros.bin": ZEROS})),
        (ZIP, zip_bytes({**sdist_members(), "demo-1.0/zeros.bin": ZEROS})),
        (TAR_GZ, tar_gz_bytes([tar_file(n, d) for n, d in {**sdist_members(), "demo-1.0/zeros.bin": ZEROS}.items()])),
    ],
    ids=["wheel", "zip-sdist", "tar-gz-sdist"],
)
def test_high_ratio_below_the_ratio_free_size_is_fine(tmp_path, filename, data):
    # The same archives pass with the shipped threshold: 8 MiB is below RATIO_FREE_SIZE.
    assert len(ZEROS) < distributions.RATIO_FREE_SIZE
    assert inspect(tmp_path, filename, data).name == "demo"


@pytest.mark.parametrize(
    ("filename", "build"),
    [
        (WHEEL, lambda members: zip_bytes({**wheel_members(), **members})),
        (ZIP, lambda members: zip_bytes({**sdist_members(), **members})),
        (TAR_GZ, lambda members: tar_gz_bytes(tar_file(n, d) for n, d in {**sdist_members(), **members}.items())),
    ],
    ids=["wheel", "zip-sdist", "tar-gz-sdist"],
)
def test_too_many_members_is_refused(tmp_path, monkeypatch, filename, build):
    monkeypatch.setattr(distributions, "MAX_MEMBERS", 5)
    data = build({f"demo-1.0/m{i}.py": b"" for i in range(10)})
    assert refused(tmp_path, filename, data) == "Archive has more than 5 members; refused."


# --------------------------------------------------------------------------- known bugs


def test_tar_symlink_chain_escaping_the_archive_is_refused(tmp_path):
    data = _sdist_plus(tar_link("demo-1.0/up", ".."), tar_link("demo-1.0/up/x", ".."))
    with pytest.raises(InvalidDistribution, match="links outside the archive|below a symbolic link"):
        inspect(tmp_path, TAR_GZ, data)


def test_tar_sdist_with_dot_slash_member_names(tmp_path):
    data = tar_gz_bytes(
        [tar_dir("./demo-1.0"), tar_file("./demo-1.0/PKG-INFO", core_metadata("demo", "1.0"))]
    )
    assert inspect(tmp_path, TAR_GZ, data).name == "demo"


def test_every_refusal_is_an_invalid_distribution_not_a_crash(tmp_path):
    """Garbage of every shape: only InvalidDistribution may come out."""
    samples = [bytes(range(256)) * 4, b"PK\x03\x04" + bytes(100), b"\x1f\x8b\x08" + bytes(100)]
    for filename in (WHEEL, ZIP, TAR_GZ):
        for data in samples:
            refused(tmp_path, filename, data)
