"""Read-side view of sync runs, for `envelope repo status` and the web UI."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from envelope.models import RepositoryConnection, SyncRun


def recent_runs(session: Session, connection: RepositoryConnection, *, limit: int = 10) -> list[dict]:
    """The connection's newest runs (a connection, not a repository name:
    several organizations may connect the same repository)."""
    runs = session.scalars(
        select(SyncRun)
        .where(SyncRun.connection_id == connection.id)
        .options(selectinload(SyncRun.assets))
        .order_by(SyncRun.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": run.id,
            "trigger": run.trigger,
            "release": run.release_tag,
            "status": run.status,
            "attempts": run.attempts,
            "assets_seen": run.assets_seen,
            "published": run.published,
            "present": run.present,
            "skipped": run.skipped,
            "failed": run.failed,
            "error": run.error,
            "created": run.created.isoformat(),
            "started": run.started.isoformat() if run.started else None,
            "finished": run.finished.isoformat() if run.finished else None,
            "assets": [
                {"name": a.name, "outcome": a.outcome, "reason": a.reason, "digest": a.digest_check}
                for a in run.assets
            ],
        }
        for run in runs
    ]


def latest_runs(session: Session, connection_ids: list[int]) -> dict[int, SyncRun]:
    """The newest run of each connection (for listings), by connection id."""
    if not connection_ids:
        return {}
    newest = (
        select(SyncRun.connection_id, func.max(SyncRun.id).label("id"))
        .where(SyncRun.connection_id.in_(connection_ids))
        .group_by(SyncRun.connection_id)
        .subquery()
    )
    runs = session.scalars(select(SyncRun).join(newest, SyncRun.id == newest.c.id))
    return {run.connection_id: run for run in runs}
