from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from sqlalchemy import func, select

from envelope.index import pages as index
from envelope.orgs.capabilities import DEPLOY_TOKEN, Capability
from envelope.orgs.identity import Caller, Restriction, operator
from envelope.errors import FileExists, FileTooLarge, Forbidden, InvalidDistribution, InvalidInput
from envelope.models import AuditEvent, DeletedFilename, File, FileSource, Project, Release
from envelope.packaging.publish import publish_file
from envelope.orgs.membership import operator_access
from envelope.packaging.releases import change_yank, delete_files
from envelope.storage import content_addressed_key
from tests.unit.archives import core_metadata, sdist_tar_gz, wheel_bytes, wheel_filename

WHEEL = wheel_filename("demo", "1.0")
DATA = wheel_bytes("demo", "1.0")
OTHER_DATA = wheel_bytes("demo", "1.0", module=b"VALUE = 2\n")  # same filename, other bytes
SHA = hashlib.sha256(DATA).hexdigest()
# Incompressible filler: a wheel of a few KiB whatever the deflate level.
BIG_DATA = wheel_bytes("demo", "1.0", module=b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(200)))


def counts(database) -> dict[str, int]:
    with database.read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Project, Release, File)
        }


def blobs(storage_root: Path) -> list[str]:
    """Every stored object, as a key relative to the storage root."""
    if not storage_root.exists():
        return []
    return sorted(str(p.relative_to(storage_root)) for p in storage_root.rglob("*") if p.is_file())


def spool_contents(spool_dir: Path) -> list[str]:
    return sorted(p.name for p in spool_dir.iterdir())


NOTHING = {"projects": 0, "releases": 0, "files": 0}


# --------------------------------------------------------------------------- success and no-ops


def test_publish_a_wheel(database, storage, storage_root, spool_dir, organization, publish):
    result = publish(WHEEL, DATA)
    assert result.created is True
    file = result.file
    assert (file.filename, file.packagetype, file.python_version, file.size) == (WHEEL, "bdist_wheel", "py3", len(DATA))
    assert file.sha256 == SHA
    assert file.md5 == hashlib.md5(DATA).hexdigest()
    assert file.blake2b_256 == hashlib.blake2b(DATA, digest_size=32).hexdigest()
    assert file.source is FileSource.upload
    assert file.uploaded_by == "operator"
    assert file.storage_key == content_addressed_key(SHA, WHEEL)
    with storage.open(file.storage_key) as stored:
        assert stored.read() == DATA
    with storage.open(file.metadata_key) as stored:
        assert stored.read() == core_metadata("demo", "1.0")
    assert blobs(storage_root) == sorted([file.storage_key, file.metadata_key])
    assert counts(database) == {"projects": 1, "releases": 1, "files": 1}
    assert spool_contents(spool_dir) == []


def test_same_bytes_again_is_a_no_op(database, storage_root, spool_dir, publish):
    first = publish(WHEEL, DATA)
    before = (counts(database), blobs(storage_root), audit_actions(database))
    again = publish(WHEEL, DATA)
    assert again.created is False
    assert again.file.id == first.file.id
    assert (counts(database), blobs(storage_root), audit_actions(database)) == before
    assert spool_contents(spool_dir) == []


def test_same_filename_other_bytes_is_refused(database, storage_root, spool_dir, publish):
    publish(WHEEL, DATA)
    before = (counts(database), blobs(storage_root))
    with pytest.raises(FileExists) as caught:
        publish(WHEEL, OTHER_DATA)
    assert str(caught.value).startswith("File already exists")
    assert WHEEL in str(caught.value)
    assert caught.value.status == 400
    assert (counts(database), blobs(storage_root)) == before
    assert spool_contents(spool_dir) == []
    with database.read() as session:
        assert session.scalar(select(File.sha256)) == SHA


def test_project_display_name_comes_from_metadata(database, publish):
    metadata = core_metadata("Demo.Pkg", "1.0")
    publish(wheel_filename("demo_pkg", "1.0"), wheel_bytes("demo_pkg", "1.0", metadata=metadata))
    with database.read() as session:
        project = session.scalar(select(Project))
        assert (project.name, project.normalized_name) == ("Demo.Pkg", "demo-pkg")


def test_release_fields_come_from_metadata(database, publish):
    metadata = core_metadata("demo", "1.0", summary="Does demo things", requires_python=">=3.9", body="Longer text\n")
    result = publish(WHEEL, wheel_bytes(metadata=metadata))
    with database.read() as session:
        release = session.scalar(select(Release))
        assert (release.version, release.canonical_version) == ("1.0", "1")
        assert (release.summary, release.requires_python, release.description) == (
            "Does demo things",
            ">=3.9",
            "Longer text\n",
        )
    assert result.file.requires_python == ">=3.9"
    assert result.file.metadata_sha256 == hashlib.sha256(metadata).hexdigest()
    assert result.file.metadata_size == len(metadata)


def test_wheel_and_sdist_of_one_version_share_a_release(database, publish):
    publish(WHEEL, DATA)
    sdist = publish("demo-1.0.tar.gz", sdist_tar_gz("demo", "1.0"))
    # 1.0 and 1.0.0 are one release, as PyPI treats them (other tags: another file).
    publish(wheel_filename("demo", "1.0.0", tags="py2.py3-none-any"), wheel_bytes("demo", "1.0.0"))
    assert counts(database) == {"projects": 1, "releases": 1, "files": 3}
    assert (sdist.file.packagetype, sdist.file.python_version) == ("sdist", "source")


def test_new_versions_make_new_releases_of_one_project(database, publish):
    for version in ("1.0", "1.1", "2.0"):
        assert publish(wheel_filename("demo", version), wheel_bytes("demo", version)).created
    assert counts(database) == {"projects": 1, "releases": 3, "files": 3}


def audit_actions(database) -> list[tuple[str, str]]:
    with database.read() as session:
        return [(e.action, e.subject) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_audit_events_are_recorded(database, organization, publish):
    publish(WHEEL, DATA)
    publish(wheel_filename("demo", "1.1"), wheel_bytes("demo", "1.1"))
    assert audit_actions(database) == [
        ("org.create", "acme"),
        ("project.create", "demo"),
        ("file.publish", WHEEL),
        ("file.publish", wheel_filename("demo", "1.1")),
    ]
    with database.read() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "file.publish"))
        assert (event.organization_id, event.actor) == (organization.id, "operator")
        assert event.detail == {"project": "demo", "version": "1.0", "sha256": SHA, "source": "upload"}


def test_correct_expected_digests_are_accepted(publish):
    expected = {
        "sha256": SHA.upper(),
        "blake2b_256": hashlib.blake2b(DATA, digest_size=32).hexdigest(),
        "md5": " " + hashlib.md5(DATA).hexdigest() + "\n",
    }
    assert publish(WHEEL, DATA, expected=expected).created


def test_yank_shows_in_project_detail(database, organization, operator, publish):
    publish(WHEEL, DATA)
    publish("demo-1.0.tar.gz", sdist_tar_gz("demo", "1.0"))
    publish(wheel_filename("demo", "1.1"), wheel_bytes("demo", "1.1"))

    def yanked() -> dict[str, object]:
        with database.read() as session:
            project = index.visible_project(session, organization, operator, "demo")
            return {f["filename"]: f["yanked"] for f in index.project_detail(session, project, operator)["files"]}

    with database.write() as session:
        change_yank(session, operator_access(organization, "tests"), "demo", "1.0", yanked=True, reason="Broken build")
    with database.write() as session:
        change_yank(session, operator_access(organization, "tests"), "Demo", "1.1", yanked=True)
    assert yanked() == {WHEEL: "Broken build", "demo-1.0.tar.gz": "Broken build", wheel_filename("demo", "1.1"): True}
    with database.write() as session:
        change_yank(session, operator_access(organization, "tests"), "demo", "1.0.0", yanked=False, filename=WHEEL)
    assert yanked() == {WHEEL: False, "demo-1.0.tar.gz": "Broken build", wheel_filename("demo", "1.1"): True}


# --------------------------------------------------------------------------- refusals store nothing


def test_wrong_expected_sha256_stores_nothing(database, storage_root, spool_dir, publish):
    with pytest.raises(InvalidInput, match="sha256 digest supplied does not match"):
        publish(WHEEL, DATA, expected={"sha256": hashlib.sha256(b"other").hexdigest()})
    assert counts(database) == NOTHING
    assert blobs(storage_root) == []
    assert spool_contents(spool_dir) == []


@pytest.mark.parametrize("digest", ["md5", "blake2b_256"])
def test_wrong_other_digests_store_nothing(database, storage_root, publish, digest):
    with pytest.raises(InvalidInput, match=f"The {digest} digest supplied does not match"):
        publish(WHEEL, DATA, expected={digest: "0" * {"md5": 32, "blake2b_256": 64}[digest]})
    assert (counts(database), blobs(storage_root)) == (NOTHING, [])


def test_non_ascii_expected_digest_is_invalid_input(database, storage_root, publish):
    with pytest.raises(InvalidInput):
        publish(WHEEL, DATA, expected={"sha256": "é" * 64})


@pytest.mark.parametrize(
    ("max_size", "message"),
    [
        (100, "File too large. Limit for this index is 100 bytes (100 bytes)."),
        (2048, "File too large. Limit for this index is 2 KiB (2048 bytes)."),
        (3000, "File too large. Limit for this index is 2.93 KiB (3000 bytes)."),
        (len(BIG_DATA) - 1, f"({len(BIG_DATA) - 1} bytes)."),
    ],
)
def test_over_max_size_stores_nothing(database, storage_root, spool_dir, publish, max_size, message):
    assert len(BIG_DATA) > max_size
    with pytest.raises(FileTooLarge) as caught:
        publish(WHEEL, BIG_DATA, max_size=max_size)
    assert message in str(caught.value)
    assert caught.value.status == 413
    assert counts(database) == NOTHING
    assert blobs(storage_root) == []
    assert spool_contents(spool_dir) == []


def test_exactly_max_size_is_fine(publish):
    assert publish(WHEEL, BIG_DATA, max_size=len(BIG_DATA)).created


def test_empty_file_is_refused(database, storage_root, spool_dir, publish):
    with pytest.raises(InvalidInput, match="The uploaded file is empty."):
        publish(WHEEL, b"")
    assert (counts(database), blobs(storage_root), spool_contents(spool_dir)) == (NOTHING, [], [])


@pytest.mark.parametrize(
    ("filename", "data", "error", "message"),
    [
        ("demo-1.0.exe", DATA, InvalidDistribution, "Unsupported file type"),
        ("../demo-1.0-py3-none-any.whl", DATA, InvalidDistribution, "Invalid distribution filename"),
        (WHEEL, b"not a zip at all", InvalidDistribution, "Not a valid zip archive"),
        (WHEEL, wheel_bytes(metadata=core_metadata("other", "1.0")), InvalidDistribution, "Metadata name 'other'"),
        ("demo-1.0.tar.gz", b"\x1f\x8b\x08 truncated", InvalidDistribution, "Not a valid .tar.gz archive"),
        # Longer than their database columns: PostgreSQL would refuse them with a 500.
        (wheel_filename("demo", "1.0+" + "a" * 146), wheel_bytes("demo", "1.0+" + "a" * 146),
         InvalidDistribution, "Version is longer than 100 characters"),
        (WHEEL, wheel_bytes(metadata=core_metadata("demo", "1.0", requires_python=",".join(
            f"!=3.{i}.*" for i in range(30)))), InvalidDistribution, "Requires-Python is longer than 200"),
    ],
)
def test_invalid_distributions_store_nothing(database, storage_root, spool_dir, publish, filename, data, error, message):
    with pytest.raises(error, match=message):
        publish(filename, data)
    assert (counts(database), blobs(storage_root), spool_contents(spool_dir)) == (NOTHING, [], [])


def restricted(organization_id: int, text: str, specifier: str, *, can_upload: bool = True) -> Caller:
    return Caller(
        organization_id=organization_id,
        label="token 'ci' (#5)",
        capabilities=DEPLOY_TOKEN if can_upload else frozenset({Capability.READ_INDEX}),
        restrictions=(Restriction(text, SpecifierSet(specifier)),),
    )


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("demo", "2.0", "This token may not upload demo 2.0: it is restricted to demo<2,>=1."),
        ("other", "1.0", "This token may not upload other: it is restricted to demo<2,>=1."),
    ],
)
def test_restricted_principal_outside_its_restriction(database, storage_root, spool_dir, organization, publish, name, version, message):
    who = restricted(organization.id, "demo", ">=1,<2")
    with pytest.raises(Forbidden) as caught:
        publish(wheel_filename(name, version), wheel_bytes(name, version), principal=who)
    assert str(caught.value) == message
    assert (counts(database), blobs(storage_root), spool_contents(spool_dir)) == (NOTHING, [], [])


def test_restricted_principal_inside_its_restriction(database, organization, publish):
    who = restricted(organization.id, "demo", ">=1,<2")
    result = publish(wheel_filename("demo", "1.5"), wheel_bytes("demo", "1.5"), principal=who)
    assert result.created and result.file.uploaded_by == "token 'ci' (#5)"


def test_read_only_principal_cannot_publish(database, storage_root, organization, publish):
    who = restricted(organization.id, "demo", "", can_upload=False)
    with pytest.raises(Forbidden, match="may only read"):
        publish(WHEEL, DATA, principal=who)
    assert (counts(database), blobs(storage_root)) == (NOTHING, [])


@pytest.mark.parametrize("data", [DATA, OTHER_DATA], ids=["same-bytes", "other-bytes"])
def test_deleted_filename_cannot_be_published_again(database, organization, storage_root, spool_dir, publish, data):
    publish(WHEEL, DATA)
    with database.write() as session:
        assert delete_files(session, organization, "demo", "1.0", actor="tests") == [WHEEL]
    assert counts(database)["files"] == 0
    with pytest.raises(FileExists) as caught:
        publish(WHEEL, data)
    assert str(caught.value).startswith("File already exists")
    assert "was deleted" in str(caught.value)
    assert counts(database)["files"] == 0
    assert spool_contents(spool_dir) == []
    with database.read() as session:
        assert session.scalars(select(DeletedFilename.filename)).all() == [WHEEL]


def test_deleting_one_file_leaves_the_others_publishable(database, organization, publish):
    publish(WHEEL, DATA)
    with database.write() as session:
        delete_files(session, organization, "demo", "1.0", filename=WHEEL, actor="tests")
    assert publish("demo-1.0.tar.gz", sdist_tar_gz("demo", "1.0")).created


def test_spool_dir_empty_after_a_stream_that_fails_midway(database, storage, spool_dir, organization, operator):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def readable(self):
            return True

        def read(self, size=-1):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("client went away")
            return DATA[:100]

    with pytest.raises(ConnectionResetError):
        publish_file(
            database,
            storage,
            organization=organization,
            principal=operator,
            filename=WHEEL,
            stream=Broken(),
            source=FileSource.upload,
            spool_dir=spool_dir,
            max_size=10 * 1024**2,
        )
    assert spool_contents(spool_dir) == []
    assert counts(database) == NOTHING


def test_publish_streams_in_chunks(database, publish, monkeypatch):
    from envelope.packaging import publish as publish_module

    monkeypatch.setattr(publish_module, "CHUNK", 7)  # many small reads must hash the same
    assert publish(WHEEL, DATA).file.sha256 == SHA


def test_each_organization_is_its_own_index(database, storage, spool_dir, organization, publish):
    from envelope.orgs.organizations import create_organization

    publish(WHEEL, DATA)
    with database.write() as session:
        other = create_organization(session, "other-org", actor="tests")
    result = publish_file(
        database,
        storage,
        organization=other,
        principal=operator(other, "operator"),
        filename=WHEEL,
        stream=io.BytesIO(OTHER_DATA),  # other bytes under the same filename: another index
        source=FileSource.import_,
        spool_dir=spool_dir,
        max_size=10 * 1024**2,
    )
    assert result.created and result.file.source is FileSource.import_
    with database.read() as session:
        owners = session.execute(select(Project.organization_id, File.sha256).join(File.project).order_by(File.id)).all()
    assert owners == [(organization.id, SHA), (other.id, hashlib.sha256(OTHER_DATA).hexdigest())]


# --------------------------------------------------------------------------- local versions, spellings, tags


@pytest.mark.parametrize(
    "filename, data",
    [
        (wheel_filename("demo", "1.0+evil"), wheel_bytes("demo", "1.0+evil")),
        ("demo-1.0+evil.tar.gz", sdist_tar_gz("demo", "1.0+evil")),
    ],
    ids=["wheel", "sdist"],
)
@pytest.mark.parametrize("who", ["operator", "token restricted to demo==1.0"])
def test_local_versions_are_refused(database, storage_root, spool_dir, organization, publish, filename, data, who):
    # '==1.0' matches '1.0+evil' (PEP 440), and pip prefers it: a token
    # restricted to demo==1.0 must not be able to publish it.
    principal = restricted(organization.id, "demo", "==1.0") if who != "operator" else None
    with pytest.raises(InvalidDistribution) as caught:
        publish(filename, data, principal=principal)
    assert str(caught.value).startswith("Can't use PEP 440 local versions: '1.0+evil'")
    assert caught.value.status == 400
    assert (counts(database), blobs(storage_root), spool_contents(spool_dir)) == (NOTHING, [], [])


@pytest.mark.parametrize(
    "respelled",
    [
        "Demo-1.0-py3-none-any.whl",  # name spelling
        "demo-1.0.0-py3-none-any.whl",  # the same version with a trailing zero
        "demo-1.0-py3-none-ANY.whl",  # tags compare case-insensitively, as packaging parses them
    ],
)
@pytest.mark.parametrize("data", [DATA, OTHER_DATA], ids=["same-bytes", "other-bytes"])
def test_another_spelling_of_a_published_file_is_refused(database, storage_root, spool_dir, publish, respelled, data):
    publish(WHEEL, DATA)
    before = (counts(database), blobs(storage_root))
    with pytest.raises(FileExists) as caught:
        publish(respelled, data)
    assert str(caught.value) == (
        f"File already exists: {respelled!r} names the same file as {WHEEL!r}, which is already "
        "published; files are immutable, publish a new version."
    )
    assert (counts(database), blobs(storage_root), spool_contents(spool_dir)) == (*before, [])


def test_one_sdist_per_release(database, publish):
    publish("demo-1.0.tar.gz", sdist_tar_gz("demo", "1.0"))
    with pytest.raises(FileExists, match="names the same file as 'demo-1.0.tar.gz'"):
        publish("demo-1.0.0.tar.gz", sdist_tar_gz("demo", "1.0.0"))
    assert counts(database)["files"] == 1


@pytest.mark.parametrize(
    "respelled",
    ["Demo-1.9.post1-py3-none-any.whl", "demo-1.9.0.post1-py3-none-any.whl", "demo-01.9.POST01-py3-none-any.whl"],
)
def test_deleted_filename_is_burned_in_every_spelling(database, organization, spool_dir, publish, respelled):
    deleted = wheel_filename("demo", "1.9.post1")
    publish(deleted, wheel_bytes("demo", "1.9.post1"))
    with database.write() as session:
        delete_files(session, organization, "demo", "1.9.post1", actor="tests")
    with pytest.raises(FileExists) as caught:
        publish(respelled, wheel_bytes("demo", respelled.split("-")[1], module=b"VALUE = 'new bytes'\n"))
    assert str(caught.value) == (
        f"File already exists: {respelled!r} names the same file as the deleted {deleted!r}, whose name "
        "cannot be reused; publish a new version."
    )
    assert counts(database)["files"] == 0 and spool_contents(spool_dir) == []
    # Other tags are another file of the release: still publishable.
    assert publish(wheel_filename("demo", "1.9.post1", tags="py2.py3-none-any"), wheel_bytes("demo", "1.9.post1")).created


@pytest.mark.parametrize(
    "filename, label, tag",
    [
        ("demo-1.0-py3-none-any#x.whl", "platform tag", "any#x"),
        ("demo-1.0-py3-none-any?x.whl", "platform tag", "any?x"),
        ('demo-1.0-py3-none-a"b.whl', "platform tag", 'a"b'),
        ("demo-1.0-py3-none-linux;x.whl", "platform tag", "linux;x"),
        ("demo-1.0-py3-none-%2e%2e.whl", "platform tag", "%2e%2e"),
        ("demo-1.0-py3-no ne-any.whl", "ABI tag", "no ne"),
        ("demo-1.0-py3.-none-any.whl", None, None),  # an empty member of a compressed set: packaging refuses it
        ("demo-1.0-1#x-py3-none-any.whl", "build tag", "1#x"),
    ],
)
def test_malformed_wheel_tags_are_refused(database, storage_root, spool_dir, publish, filename, label, tag):
    with pytest.raises(InvalidDistribution) as caught:
        publish(filename, DATA)
    if label is not None:
        assert str(caught.value).startswith(f"Invalid wheel filename {filename!r}: the {label} {tag!r} may only hold")
    assert caught.value.status == 400
    assert (counts(database), blobs(storage_root), spool_contents(spool_dir)) == (NOTHING, [], [])


def test_compressed_tag_sets_and_build_tags_are_accepted(database, publish):
    for tags in ("py2.py3-none-any", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"):
        assert publish(wheel_filename("demo", "1.0", tags=tags), DATA).created
    assert publish("demo-1.0-2_b-py3-none-any.whl", DATA).created
