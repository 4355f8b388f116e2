"""The blob collector on both backends (SQLite + files, PostgreSQL + S3 over
HTTP): it removes a deleted file's blob and `.metadata` once unreferenced,
keeps a blob another file shares, and never loses a blob to a publish of the
same bytes racing it, in either order."""
from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from envelope import migrate
from envelope.db import Database
from envelope.lifecycle import collector
from envelope.models import BlobCandidate, File, FileSource, Organization
from envelope.models.base import utcnow
from envelope.models.packaging import metadata_key
from envelope.orgs.identity import operator
from envelope.orgs.organizations import create_organization
from envelope.packaging.publish import publish_file
from envelope.packaging.releases import delete_files
from envelope.storage import Storage, storage_from_url
from tests.conftest import make_backend
from tests.unit.archives import wheel_bytes, wheel_filename

WHEEL = wheel_filename("shared", "1.0")
DATA = wheel_bytes("shared", "1.0")
LATER = utcnow() + timedelta(hours=1)  # past the grace period


@dataclass
class Stack:
    db: Database
    storage: Storage
    spool: Path
    acme: Organization
    globex: Organization

    def publish(self, organization: Organization, storage: Storage | None = None) -> File:
        return publish_file(
            self.db, storage or self.storage, organization=organization,
            principal=operator(organization, "tests"), filename=WHEEL, stream=io.BytesIO(DATA),
            source=FileSource.upload, spool_dir=self.spool, max_size=10 * 1024**2,
        ).file

    def delete(self, organization: Organization) -> None:
        with self.db.write() as session:
            delete_files(session, organization, "shared", "1.0", actor="tests")

    def stored(self, key: str) -> bool:
        return self.storage.exists(key) and self.storage.exists(metadata_key(key))

    def read(self, key: str) -> bytes:
        with self.storage.open(key) as stream:
            return stream.read()


@pytest.fixture(params=["sqlite-file", "postgres-s3"])
def stack(request, tmp_path: Path, monkeypatch) -> Stack:
    backend = make_backend(request.param, request)
    for name, value in backend.env().items():
        monkeypatch.setenv(name, value)
    url = backend.database_url or f"sqlite:///{tmp_path / 'envelope.db'}"
    migrate.upgrade(url)
    db = Database(url)
    storage = storage_from_url(backend.storage_url or f"file://{tmp_path / 'files'}")
    spool = tmp_path / "spool"
    spool.mkdir()
    with db.write() as session:
        acme = create_organization(session, "acme", actor="tests")
        globex = create_organization(session, "globex", actor="tests")
    yield Stack(db, storage, spool, acme, globex)
    db.dispose()


class Interleaved:
    """The backend's storage, running `hook` once when `when(method, key)`
    first holds: how a test puts another actor at an exact point of a
    publish or a collection. Every call reaches the real storage."""

    def __init__(self, storage: Storage, when, hook) -> None:
        self._storage, self._when, self._hook, self.fired = storage, when, hook, False

    def _maybe(self, method: str, key: str) -> None:
        if not self.fired and self._when(method, key):
            self.fired = True
            self._hook()

    def put_file(self, key, path, *, content_type):
        self._storage.put_file(key, path, content_type=content_type)
        self._maybe("put_file", key)

    def put_bytes(self, key, data, *, content_type):
        self._storage.put_bytes(key, data, content_type=content_type)
        self._maybe("put_bytes", key)

    def delete(self, key):
        self._storage.delete(key)
        self._maybe("delete", key)

    def __getattr__(self, name):
        return getattr(self._storage, name)


def test_a_deleted_files_blob_goes_after_the_grace_period(stack: Stack) -> None:
    key = stack.publish(stack.acme).storage_key
    stack.delete(stack.acme)
    assert collector.collect(stack.db, stack.storage).removed == []  # within the grace period
    assert stack.stored(key)
    assert collector.collect(stack.db, stack.storage, now=LATER).removed == [key]
    assert not stack.storage.exists(key) and not stack.storage.exists(metadata_key(key))
    with stack.db.read() as session:
        assert session.scalar(select(BlobCandidate)) is None


def test_a_blob_another_file_shares_stays(stack: Stack) -> None:
    key = stack.publish(stack.acme).storage_key
    assert stack.publish(stack.globex).storage_key == key  # same bytes, same name: one blob
    stack.delete(stack.acme)
    result = collector.collect(stack.db, stack.storage, now=LATER)
    assert (result.removed, result.kept) == ([], [key])
    assert stack.read(key) == DATA and stack.storage.exists(metadata_key(key))


def test_collector_between_a_publishs_store_and_its_commit_leaves_the_blob(stack: Stack) -> None:
    """The publish stored (found) the bytes, then the collector removed them
    before the publish recorded its row: the publish stores them again."""
    key = stack.publish(stack.acme).storage_key
    stack.delete(stack.acme)
    racing = Interleaved(stack.storage, lambda method, k: method == "put_bytes" and k == metadata_key(key),
                         lambda: collector.collect(stack.db, stack.storage, now=LATER))
    file = stack.publish(stack.globex, storage=racing)
    assert racing.fired
    assert file.storage_key == key
    assert stack.read(key) == DATA and stack.storage.exists(metadata_key(key))
    assert collector.collect(stack.db, stack.storage, now=LATER + timedelta(hours=1)).removed == []
    assert stack.read(key) == DATA


def test_publish_racing_a_collector_holding_the_key_waits_and_leaves_the_blob(stack: Stack) -> None:
    """The collector has decided and is removing the blob when a publish of
    the same bytes reaches its commit: the publish waits for the collector's
    transaction, then finds the blob gone and stores it again."""
    key = stack.publish(stack.acme).storage_key
    stack.delete(stack.acme)
    outcome: dict[str, object] = {}

    def publish() -> None:
        try:
            outcome["file"] = stack.publish(stack.globex)
        except Exception as exc:  # reported below, in the test's thread
            outcome["error"] = exc

    publisher = threading.Thread(target=publish)

    def start_publish_and_hold() -> None:
        publisher.start()
        time.sleep(2.0)  # the publish reaches its transaction and waits there
        outcome["waited"] = publisher.is_alive()

    racing = Interleaved(stack.storage, lambda method, k: method == "delete" and k == key, start_publish_and_hold)
    assert collector.collect(stack.db, racing, now=LATER).removed == [key]
    publisher.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["waited"] is True
    assert outcome["file"].storage_key == key
    assert stack.read(key) == DATA and stack.storage.exists(metadata_key(key))
    with stack.db.read() as session:
        assert session.scalar(select(BlobCandidate)) is None


def test_marking_a_key_again_restarts_its_grace_period(stack: Stack) -> None:
    key = stack.publish(stack.acme).storage_key
    stack.publish(stack.globex)
    stack.delete(stack.acme)
    with stack.db.write() as session:
        first = session.get(BlobCandidate, key).marked
    stack.delete(stack.globex)  # the same key, marked again: one row, a later mark
    with stack.db.read() as session:
        rows = session.scalars(select(BlobCandidate)).all()
    assert [row.storage_key for row in rows] == [key] and rows[0].marked > first
    assert collector.collect(stack.db, stack.storage, now=rows[0].marked + timedelta(minutes=5)).removed == []
    assert collector.collect(stack.db, stack.storage, now=LATER).removed == [key]
