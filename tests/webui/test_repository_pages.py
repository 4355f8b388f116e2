"""GitHub connections in the web UI: connect (secret once), history, sync now, remove."""
from __future__ import annotations

import re

from sqlalchemy import select

from envelope.models import OutboxMessage, RepositoryConnection, SyncAsset, SyncRun
from envelope.repositories import webhook_secret


def connect(world, full_name: str = "Acme/Billing", **form: str):
    return world.browser("olivia").post("/acme/repositories", {"full_name": full_name, **form})


def test_owner_connects_and_sees_the_webhook_secret_once(world, settings):
    response = connect(world, projects="billing\nbilling-extras", github_token="ghp_x")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "https://pkgs.example.com/hooks/github" in page
    shown = re.search(r'<pre id="webhook-secret"[^>]*>([^<]+)</pre>', page).group(1)
    with world.db.read() as session:
        connection = session.scalar(select(RepositoryConnection))
        assert webhook_secret(connection, settings.secret_key) == shown
        assert connection.allowed_projects == ["billing", "billing-extras"]
    listing = world.browser("rita").get("/acme/repositories").get_data(as_text=True)
    assert "acme/billing" in listing and shown not in listing and "private (token)" in listing
    assert "Connect a repository" not in listing  # readers get no form


def test_connect_needs_an_owner_and_a_valid_name(world):
    assert world.browser("max").post("/acme/repositories", {"full_name": "acme/x"}).status_code == 403
    bad = connect(world, "not a repo")
    assert bad.status_code == 400 and "expected OWNER/REPO" in bad.get_data(as_text=True)
    connect(world)
    assert connect(world, "acme/billing").status_code == 409


def test_sync_now_queues_a_run_through_the_outbox_and_history_shows_runs(world):
    connect(world)
    maintainer = world.browser("max")
    response = maintainer.post("/acme/repositories/acme/billing/sync")
    assert response.status_code == 302
    with world.db.write() as session:
        run = session.scalar(select(SyncRun))
        assert (run.trigger, run.status) == ("manual", "queued")
        message = session.scalar(select(OutboxMessage))
        assert (message.task, message.kwargs) == ("envelope.ingest_run", {"run_id": run.id})
        run.status, run.error = "failed", "GitHub said no"
        session.add(SyncAsset(run_id=run.id, name="billing-1.0.tar.gz", size=10, asset_id=1,
                              asset_updated_at="2024-01-01T00:00:00Z", outcome="refused",
                              reason="File already exists"))
    # A second click while one is pending queues nothing more.
    maintainer.post("/acme/repositories/acme/billing/sync")
    page = maintainer.get("/acme/repositories/acme/billing").get_data(as_text=True)
    assert "GitHub said no" in page and "billing-1.0.tar.gz" in page and "File already exists" in page
    assert world.browser("rita").post("/acme/repositories/acme/billing/sync").status_code == 403
    with world.db.read() as session:
        assert len(session.scalars(select(SyncRun)).all()) == 2  # the failed one, then a new one


def test_other_organizations_connections_are_not_found(world):
    connect(world)
    otto = world.browser("otto")
    assert otto.get("/other/repositories/acme/billing").status_code == 404
    assert otto.post("/other/repositories/acme/billing/sync").status_code == 404
    assert otto.post("/other/repositories/acme/billing/remove").status_code == 404


def test_owner_removes_a_connection(world):
    connect(world)
    assert world.browser("max").post("/acme/repositories/acme/billing/remove").status_code == 403
    assert world.browser("olivia").post("/acme/repositories/acme/billing/remove").status_code == 302
    with world.db.read() as session:
        assert session.scalar(select(RepositoryConnection)) is None
