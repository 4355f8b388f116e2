"""`envelope repo …` and `envelope sync`: GitHub repositories and their releases."""
from __future__ import annotations

import json
import sys

import click

from cli.common import actor, echo_public_url, friendly_errors, open_runtime
from envelope.orgs import organizations
from envelope.models import AssetOutcome, RunStatus


@click.group()
def repo() -> None:
    """GitHub repository connections."""


@repo.command("add")
@click.option("--org", "org_name", required=True)
@click.argument("full_name", metavar="OWNER/REPO")
@click.option("--github-token", help="For private repositories: a token with read access to contents.")
@click.option("--project", "projects", multiple=True, help="A project this repository may publish (repeatable); default: any.")
@friendly_errors
def repo_add(org_name: str, full_name: str, github_token: str | None, projects: tuple[str, ...]) -> None:
    from envelope.github.repositories import add_repository

    runtime = open_runtime()
    with runtime.db.write() as session:
        organization = organizations.get_organization(session, org_name)
        new = add_repository(session, runtime.settings.secret_key, organization, full_name,
                             github_token=github_token, projects=projects, actor=actor())
    allowed = ", ".join(new.connection.allowed_projects) or "any project of " + org_name
    click.echo(f"Connected {new.connection.full_name} to {org_name}; it may publish {allowed}.")
    click.echo("Add a webhook in GitHub (Settings -> Webhooks): content type application/json,")
    click.echo("events: Releases. The secret is shown only now.")
    echo_public_url("Webhook URL", runtime.settings, "/hooks/github")
    click.echo(f"Webhook secret: {new.webhook_secret}")


def _repo_row(connection) -> dict:
    return {
        "repository": connection.full_name,
        "projects": connection.allowed_projects or None,
        "private": connection.github_token_sealed is not None,
        "app_installation": connection.installation.account_login if connection.installation else None,
        "status": connection.status,
        "last_polled": connection.last_polled.isoformat() if connection.last_polled else None,
        "created": connection.created.isoformat(),
    }


@repo.command("list")
@click.option("--org", "org_name", required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def repo_list(org_name: str, as_json: bool) -> None:
    from envelope.github.repositories import list_repositories

    with open_runtime().db.read() as session:
        organization = organizations.get_organization(session, org_name)
        rows = [_repo_row(c) for c in list_repositories(session, organization)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        projects = ", ".join(r["projects"] or ["any project"])
        access = f"app:{r['app_installation']}" if r["app_installation"] else ("private" if r["private"] else "public")
        click.echo(f"{r['repository']}\t{projects}\t{access}\t{r['status']}\t"
                   f"last polled {r['last_polled'] or 'never'}")


ORG_OF_CONNECTION = click.option(
    "--org", "org_name", help="The organization whose connection to use; needed when several connected the repository."
)


@repo.command("remove")
@click.argument("full_name", metavar="OWNER/REPO")
@ORG_OF_CONNECTION
@friendly_errors
def repo_remove(full_name: str, org_name: str | None) -> None:
    from envelope.github.repositories import remove_repository

    with open_runtime().db.write() as session:
        remove_repository(session, full_name, actor=actor(), org_name=org_name)
    click.echo(f"Disconnected {full_name}; its published files stay in the index.")


@repo.command("status")
@click.argument("full_name", metavar="OWNER/REPO")
@ORG_OF_CONNECTION
@click.option("--runs", default=10, show_default=True, help="How many recent runs to show.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def repo_status(full_name: str, org_name: str | None, runs: int, as_json: bool) -> None:
    """Recent sync runs with per-asset outcomes."""
    from envelope.github.repositories import find_connection
    from envelope.github.sync_status import recent_runs

    with open_runtime().db.read() as session:
        rows = recent_runs(session, find_connection(session, full_name, org_name), limit=runs)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"#{r['id']} {r['trigger']:<9} {r['release'] or 'all releases':<12} {r['status']:<9} "
            f"seen {r['assets_seen']}, published {r['published']}, present {r['present']}, "
            f"skipped {r['skipped']}, failed {r['failed']}" + (f" - {r['error']}" if r["error"] else "")
        )
        for a in r["assets"]:
            if a["outcome"] not in (AssetOutcome.published, AssetOutcome.present):
                click.echo(f"    {a['outcome']:<8} {a['name']}: {a['reason']}")


@click.command("sync")
@click.argument("full_name", metavar="OWNER/REPO")
@ORG_OF_CONNECTION
@friendly_errors
def sync_now(full_name: str, org_name: str | None) -> None:
    """Ingest every release of a connected repository now, in the foreground."""
    from cli.sync_progress import run_with_progress

    status = run_with_progress(open_runtime(), full_name, org_name, actor=actor())
    if status != RunStatus.succeeded:
        sys.exit(1)
