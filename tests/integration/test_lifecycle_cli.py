"""`envelope retention` and `envelope collect` as an operator runs them: a
real subprocess on a data dir of its own, with files brought in by `envelope import`."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from envelope.models import BlobCandidate, File
from envelope.models.base import utcnow
from tests.integration.test_cli import Cli, cli  # noqa: F401  (the fixture)
from tests.unit.archives import wheel_bytes, wheel_filename

VERSIONS = ["1.0", "1.1a1", "1.1a2", "2.0.dev1"]


def test_retention_dry_run_real_run_and_collect(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
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

    blobs = cli.data_dir / "files"
    stored = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    assert len(stored) == 8  # four wheels, four .metadata
    assert cli.run("collect").stdout == "Removed 0 unreferenced blobs; 0 were in use again.\n"  # grace period
    db = cli.database()
    with db.write() as session:  # as if the grace period had passed
        session.execute(update(BlobCandidate).values(marked=utcnow() - timedelta(hours=1)))
    db.dispose()
    assert cli.run("collect").stdout == "Removed 2 unreferenced blobs; 0 were in use again.\n"
    left = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    assert left == sorted([wheel_filename("demo", "1.0"), wheel_filename("demo", "1.0") + ".metadata",
                           wheel_filename("demo", "2.0.dev1"), wheel_filename("demo", "2.0.dev1") + ".metadata"])
