"""Migrations build the same schema as the models on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from envelope.db import Base, Database
from envelope.migrate import alembic_config, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("postgres").create_database(f"mig_{uuid.uuid4().hex[:10]}")


def test_upgrade_is_idempotent_and_matches_models(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    command.check(alembic_config(database_url))  # raises if models and migrations drift
    db = Database(database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_and_back(database_url: str) -> None:
    config = alembic_config(database_url)
    upgrade(database_url)
    command.downgrade(config, "base")
    db = Database(database_url)
    try:
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    finally:
        db.dispose()
    upgrade(database_url)


def test_filename_keys_are_backfilled(database_url: str) -> None:
    """0010 computes files.filename_key and deleted_filenames.filename_key for
    rows published before keys existed, so old files and burned names are
    compared in every spelling too."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table

    config = alembic_config(database_url)
    command.upgrade(config, "0005")
    db = Database(database_url)
    try:
        tables = MetaData()
        organizations, projects, releases, files, deleted = (
            Table(name, tables, autoload_with=db.engine)
            for name in ("organizations", "projects", "releases", "files", "deleted_filenames")
        )
        now = datetime(2026, 1, 1)
        with db.engine.begin() as connection:
            connection.execute(organizations.insert().values(id=1, name="acme", serial=0, created=now))
            connection.execute(projects.insert().values(id=1, organization_id=1, name="Billing",
                                                        normalized_name="billing", serial=0, created=now))
            connection.execute(releases.insert().values(id=1, project_id=1, version="1.0", canonical_version="1",
                                                        created=now))
            row = dict(project_id=1, release_id=1, packagetype="bdist_wheel", python_version="py3", size=1,
                       sha256="a" * 64, blake2b_256="b" * 64, md5="c" * 32, metadata_sha256="d" * 64,
                       metadata_size=1, storage_key="k", upload_time=now, yanked=False, source="upload",
                       uploaded_by="tests")
            connection.execute(files.insert(), [
                {**row, "id": 1, "filename": "Billing-1.0.0-py2.py3-none-any.whl"},
                {**row, "id": 2, "filename": "billing-1.0.tar.gz", "packagetype": "sdist"},
            ])
            connection.execute(deleted.insert().values(id=1, organization_id=1, deleted=now,
                                                       filename="billing-1.9.0.post1-py3-none-any.whl"))
    finally:
        db.dispose()
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            file_keys = connection.exec_driver_sql("SELECT id, filename_key FROM files ORDER BY id").all()
            deleted_keys = connection.exec_driver_sql("SELECT filename_key FROM deleted_filenames").scalars().all()
    finally:
        db.dispose()
    assert [tuple(r) for r in file_keys] == [(1, "billing-1-py2.py3-none-any.whl"), (2, "billing-1.sdist")]
    assert deleted_keys == ["billing-1.9.post1-py3-none-any.whl"]


def test_upstream_objects_last_used_starts_as_when_they_were_cached(database_url: str) -> None:
    """0025 gives cached upstream files a last use: the time they were cached,
    so the cache budget's first run evicts the oldest fetched first; budgets start unset."""
    from datetime import datetime

    from sqlalchemy import MetaData, Table

    config = alembic_config(database_url)
    command.upgrade(config, "0022")
    db = Database(database_url)
    try:
        tables = MetaData()
        organizations, objects = (Table(n, tables, autoload_with=db.engine) for n in ("organizations", "upstream_objects"))
        with db.engine.begin() as connection:
            connection.execute(organizations.insert().values(id=1, name="acme", serial=0, created=datetime(2026, 1, 1)))
            connection.execute(objects.insert(), [
                {"id": i, "organization_id": 1, "sha256": str(i) * 64, "filename": f"p-{i}.0-py3-none-any.whl",
                 "storage_key": f"upstream/k{i}", "size": 10, "cached": datetime(2026, i, 1)} for i in (1, 2)
            ])
    finally:
        db.dispose()
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            used = connection.exec_driver_sql("SELECT id, last_used FROM upstream_objects ORDER BY id").all()
            budget = connection.exec_driver_sql(
                "SELECT upstream_cache_max_bytes, upstream_cache_max_age FROM organizations").one()
    finally:
        db.dispose()
    assert [(i, str(when)[:10]) for i, when in used] == [(1, "2026-01-01"), (2, "2026-02-01")]
    assert tuple(budget) == (None, None)
