"""`envelope retention` and `envelope collect` as an operator runs them: a
real subprocess on a data dir of its own, with files brought in by `envelope
import`, on both backends (embedded SQLite + files, PostgreSQL + S3)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from envelope.db import Database
from envelope.models import BlobCandidate, File
from envelope.models.base import utcnow
from tests.conftest import make_backend
from tests.integration.test_cli import Cli
from tests.services.envelope_server import Backend
from tests.unit.archives import wheel_bytes, wheel_filename

VERSIONS = ["1.0", "1.1a1", "1.1a2", "2.0.dev1"]


@pytest.fixture(params=["sqlite-file", "postgres-s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return make_backend(request.param, request)


class BackendCli(Cli):
    """`envelope` with the backend's database and storage in its environment."""

    def __init__(self, backend: Backend, data_dir: Path, cwd: Path) -> None:
        super().__init__(data_dir, cwd, **backend.env())
        self.backend = backend

    def database(self) -> Database:
        return Database(self.backend.database_url) if self.backend.database_url else super().database()

    def stored(self) -> list[str]:
        """The names of every stored object (blobs and .metadata), whichever the storage."""
        if self.backend.s3 is not None:
            return sorted(key.rsplit("/", 1)[-1] for key in self.backend.s3.list_keys(self.backend.bucket or ""))
        return sorted(p.name for p in (self.data_dir / "files").rglob("*") if p.is_file())


@pytest.fixture
def cli(backend: Backend, tmp_path: Path) -> BackendCli:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = BackendCli(backend, tmp_path / "data", elsewhere)
    cli.run("migrate")
    return cli


def test_retention_dry_run_real_run_and_collect(cli: BackendCli, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in VERSIONS:
        (wheels / wheel_filename("demo", version)).write_bytes(wheel_bytes("demo", version))
    cli.run("org", "create", "acme")
    cli.run("import", "--org", "acme", str(wheels))

    refused = cli.run("retention", "set", "--org", "acme", "--max-age", "ten days", ok=False)
    assert refused.stderr.startswith("Error: An age is a number of days like 180d") and refused.stdout == ""
    missing = cli.run("retention", "set", "--org", "acme", "--project", "nope", "--keep-prereleases", "1", ok=False)
    assert "No project 'nope' in 'acme'" in missing.stderr
    assert "acme has no retention policy" in cli.run("retention", "show", "--org", "acme").stdout

    cli.run("retention", "set", "--org", "acme", "--keep-prereleases", "1", "--max-age", "180d")
    assert cli.run("retention", "show", "--org", "acme").stdout == (
        "acme (organization): keep pre-releases 1, max age 180d, downloaded in 30 days kept\n")

    dry = cli.run("retention", "run", "--org", "acme", "--dry-run").stdout.splitlines()
    assert dry == [
        "would delete demo 1.1a2 (1 files): pre-release beyond the newest 1",
        "would delete demo 1.1a1 (1 files): pre-release beyond the newest 1",
        "Would delete 2 releases.",
    ]
    with cli.database().read() as session:
        assert len(session.scalars(select(File)).all()) == 4

    real = cli.run("retention", "run", "--org", "acme").stdout
    assert real.endswith("Deleted 2 releases.\n")
    with cli.database().read() as session:
        assert sorted(session.scalars(select(File.filename))) == [
            wheel_filename("demo", "1.0"), wheel_filename("demo", "2.0.dev1")]
    again = cli.run("import", "--org", "acme", str(wheels / wheel_filename("demo", "1.1a1")), ok=False)
    assert "cannot be reused" in again.stdout + again.stderr

    assert len(cli.stored()) == 8  # four wheels, four .metadata
    assert cli.run("collect").stdout == "Removed 0 unreferenced blobs; 0 were in use again.\n"  # grace period
    db = cli.database()
    with db.write() as session:  # as if the grace period had passed
        session.execute(update(BlobCandidate).values(marked=utcnow() - timedelta(hours=1)))
    db.dispose()
    assert cli.run("collect").stdout == "Removed 2 unreferenced blobs; 0 were in use again.\n"
    assert cli.stored() == sorted([wheel_filename("demo", "1.0"), wheel_filename("demo", "1.0") + ".metadata",
                           wheel_filename("demo", "2.0.dev1"), wheel_filename("demo", "2.0.dev1") + ".metadata"])
