"""`envelope import`: many files through publish_file, with progress."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from envelope.orgs.organizations import get_organization
from envelope.errors import EnvelopeError
from envelope.models import FileSource
from envelope.orgs.identity import operator
from envelope.packaging.publish import publish_file
from envelope.runtime import Runtime

SUFFIXES = (".whl", ".tar.gz", ".zip")
# Publishing is mostly hashing and I/O; a few threads keep the disk busy
# while one of them holds the database's write lock.
THREADS = 4


def collect(paths: tuple[Path, ...] | list[Path]) -> list[Path]:
    """Distribution files named directly or found below the directories given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)))
        else:
            found.append(path)
    return found


def import_files(runtime: Runtime, org_name: str, paths, *, actor: str) -> list[tuple[Path, str]]:
    """Publish every file; returns the failures (path, reason). Never stops at one."""
    with runtime.db.read() as session:
        organization = get_organization(session, org_name)
    principal = operator(organization, actor)
    files = collect(paths)
    console = Console(stderr=True)
    counts = {"imported": 0, "present": 0}
    failures: list[tuple[Path, str]] = []

    def one(path: Path) -> None:
        try:
            with open(path, "rb") as stream:
                result = publish_file(
                    runtime.db,
                    runtime.storage,
                    organization=organization,
                    principal=principal,
                    filename=path.name,
                    stream=stream,
                    source=FileSource.import_,
                    spool_dir=runtime.settings.tmp_dir,
                    max_size=runtime.settings.max_file_size,
                )
            counts["imported" if result.created else "present"] += 1
        except (EnvelopeError, OSError) as exc:
            failures.append((path, str(exc)))

    columns = (
        TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )
    with Progress(*columns, console=console) as progress, ThreadPoolExecutor(THREADS) as pool:
        task = progress.add_task("import", total=len(files))
        for _ in pool.map(one, files):
            progress.advance(task)
    for path, reason in failures:
        console.print(f"[red]failed[/red] {path}: {reason}", highlight=False)
    console.print(
        f"Imported {counts['imported']}, already present {counts['present']}, "
        f"failed {len(failures)} of {len(files)} files into {org_name}.",
        highlight=False,
    )
    return failures
