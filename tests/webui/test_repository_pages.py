"""GitHub connections in the web UI: connect (secret once), history, sync now, remove."""
from __future__ import annotations

import hashlib
import hmac
import json
import re

from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import main
from envelope.models import Organization, OutboxMessage, RepositoryConnection, SyncAsset, SyncRun
from envelope.github.repositories import webhook_secret


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


def connected_secret(response) -> str:
    return re.search(r'<pre id="webhook-secret"[^>]*>([^<]+)</pre>', response.get_data(as_text=True)).group(1)


def deliver(world, secret: str, *, repo: str = "acme/billing", delivery: str = "d-1", signature: str | None = None):
    body = json.dumps({"action": "published", "release": {"id": 7, "tag_name": "v1.0"},
                       "repository": {"full_name": repo}}).encode()
    signature = signature or "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return world.app.test_client().post("/hooks/github", data=body, headers={
        "X-GitHub-Event": "release", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    })


def runs_by_org(world) -> dict[str, int]:
    with world.db.read() as session:
        rows = session.execute(
            select(Organization.name, func.count(SyncRun.id))
            .join(RepositoryConnection, RepositoryConnection.organization_id == Organization.id)
            .join(SyncRun, SyncRun.connection_id == RepositoryConnection.id)
            .group_by(Organization.name)
        )
        return dict(rows.all())


def test_two_organizations_connect_the_same_repository_each_with_its_own_webhook(world):
    acme = connect(world)
    assert acme.status_code == 200
    # Another organization's connection is neither confirmed nor squatted.
    other = world.browser("otto").post("/other/repositories", {"full_name": "acme/BILLING"})
    assert other.status_code == 200, other.get_data(as_text=True)
    acme_secret, other_secret = connected_secret(acme), connected_secret(other)
    assert acme_secret != other_secret
    assert "acme/billing" not in world.browser("olivia").get("/other/repositories").get_data(as_text=True)

    # Each organization's webhook is accepted for its own connection only;
    # a delivery id seen by one does not silence the other.
    assert deliver(world, acme_secret).status_code == 202
    assert runs_by_org(world) == {"acme": 1}
    assert deliver(world, other_secret).status_code == 202
    assert runs_by_org(world) == {"acme": 1, "other": 1}
    again = deliver(world, other_secret)
    assert again.status_code == 200 and "Already received" in again.get_json()["message"]
    assert deliver(world, "a guess").status_code == 403
    assert runs_by_org(world) == {"acme": 1, "other": 1}

    # Disconnecting in one organization leaves the other's connection alone.
    assert world.browser("otto").post("/other/repositories/acme/billing/remove").status_code == 302
    with world.db.read() as session:
        assert [c.organization_id for c in session.scalars(select(RepositoryConnection))] == [world.acme.id]
    assert connect(world, "acme/billing").status_code == 409  # still one per organization


def test_a_bad_signature_gets_the_same_answer_for_unknown_and_connected_repositories(world):
    connect(world)
    wrong = "sha256=" + "0" * 64
    connected = deliver(world, "", signature=wrong)
    unknown = deliver(world, "", repo="nobody/nothing", signature=wrong)
    assert connected.status_code == unknown.status_code == 403
    assert connected.get_data() == unknown.get_data()
    assert connected.headers["Content-Type"] == unknown.headers["Content-Type"]


def test_cli_asks_which_organization_when_several_connected_the_repository(world, settings):
    connect(world)
    world.browser("otto").post("/other/repositories", {"full_name": "acme/billing"})
    env = {"ENVELOPE_DATA_DIR": str(settings.data_dir), "ENVELOPE_SECRET_KEY": "s" * 40}
    runner = CliRunner()

    ambiguous = runner.invoke(main, ["repo", "status", "acme/billing"], env=env)
    assert ambiguous.exit_code == 1
    assert "acme/billing is connected to several organizations (acme, other): choose one with --org." in (
        ambiguous.output
    )
    assert runner.invoke(main, ["sync", "acme/billing"], env=env).exit_code == 1
    assert runner.invoke(main, ["repo", "remove", "acme/billing"], env=env).exit_code == 1

    assert runner.invoke(main, ["repo", "status", "--org", "acme", "acme/billing"], env=env).exit_code == 0
    missing = runner.invoke(main, ["repo", "status", "--org", "nope", "acme/billing"], env=env)
    assert missing.exit_code == 1 and "not connected to nope" in missing.output
    removed = runner.invoke(main, ["repo", "remove", "--org", "other", "acme/billing"], env=env)
    assert removed.exit_code == 0, removed.output
    with world.db.read() as session:
        assert [c.organization_id for c in session.scalars(select(RepositoryConnection))] == [world.acme.id]
    # With one connection left, the name alone is enough again.
    assert runner.invoke(main, ["repo", "status", "acme/billing"], env=env).exit_code == 0
