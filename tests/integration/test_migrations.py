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
