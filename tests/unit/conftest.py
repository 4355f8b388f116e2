"""Fixtures for the pure unit tests: a real SQLite database in a temporary file.

Migrating takes a noticeable fraction of a second, so the schema is built once
per session and each test gets its own copy of that file: tests stay isolated
and the suite stays fast.
"""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from envelope import migrate
from envelope.orgs.identity import operator as operator_caller
from envelope.orgs.organizations import create_organization
from envelope.db import Database
from envelope.models import FileSource, Organization
from envelope.packaging.publish import publish_file
from envelope.storage import LocalStorage


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_path(tmp_path: Path, migrated_sqlite: Path) -> Path:
    path = tmp_path / "envelope.db"
    shutil.copyfile(migrated_sqlite, path)
    return path


@pytest.fixture
def database(database_path: Path):
    db = Database(f"sqlite:///{database_path}")
    yield db
    db.dispose()


@pytest.fixture
def organization(database: Database) -> Organization:
    with database.write() as session:
        return create_organization(session, "acme", actor="tests")


@pytest.fixture
def operator(organization: Organization):
    """What the CLI runs as: every right in the organization."""
    return operator_caller(organization, "operator")


@pytest.fixture
def storage_root(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def storage(storage_root: Path) -> LocalStorage:
    return LocalStorage(storage_root)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def publish(database, storage, organization, operator, spool_dir):
    """publish(filename, data, **options): envelope.packaging.publish.publish_file with this
    test's database, storage and organization; the operator publishes by default."""

    def publish(filename: str, data: bytes, *, principal=None, max_size: int = 10 * 1024**2, expected=None):
        return publish_file(
            database,
            storage,
            organization=organization,
            principal=principal or operator,
            filename=filename,
            stream=io.BytesIO(data),
            source=FileSource.upload,
            spool_dir=spool_dir,
            max_size=max_size,
            expected=expected,
        )

    return publish
