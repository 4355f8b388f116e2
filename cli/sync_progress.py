"""`envelope sync`: the worker's ingestion, in the foreground, with a progress bar."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from envelope.github import sync
from envelope.models import AssetOutcome, RunStatus
from envelope.runtime import Runtime

COLORS = {
    AssetOutcome.published: "green", AssetOutcome.present: "dim", AssetOutcome.ignored: "dim",
    AssetOutcome.refused: "yellow", AssetOutcome.failed: "red",
}


def run_with_progress(runtime: Runtime, full_name: str, org_name: str | None = None, *, actor: str = "cli") -> str:
    console = Console(stderr=True, soft_wrap=True)  # sentences stay whole in logs and pipes
    run_id = sync.start_manual_run(runtime, full_name, org_name, actor=actor)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        current = {}

        def started(asset) -> None:
            current["task"] = bar.add_task(asset.name, total=asset.size)

        def advanced(count: int) -> None:
            bar.advance(current["task"], count)

        def done(asset, outcome: str, reason: str | None) -> None:
            bar.remove_task(current.pop("task"))
            note = f": {reason}" if reason and outcome not in (AssetOutcome.published, AssetOutcome.present) else ""
            console.print(f"[{COLORS[outcome]}]{outcome:<9}[/] {asset.name}{note}", highlight=False)

        status = sync.execute_run(runtime, run_id, sync.Progress(started, advanced, done))
    with runtime.db.read() as session:
        from envelope.models import SyncRun

        run = session.get(SyncRun, run_id)
        if run.status == RunStatus.queued:  # a transient failure: the worker takes the run over
            console.print(
                f"Sync of {full_name} did not finish here: {run.error} It continues in the background "
                f"(the worker retries with back-off); `envelope repo status {full_name}` shows how it goes.",
                highlight=False,
            )
        else:
            console.print(
                f"Sync of {full_name} {run.status}: {run.assets_seen} assets, {run.published} published, "
                f"{run.present} already present, {run.skipped} skipped, {run.failed} failed."
                + (f" {run.error}" if run.error else ""),
                highlight=False,
            )
    return status or run.status
