"""`envelope publisher …`: the GitHub workflows trusted to mint short-lived tokens."""
from __future__ import annotations

import json

import click

from cli.common import actor, echo_public_url, friendly_errors, open_runtime
from envelope.models import TokenScope
from envelope.orgs import organizations


@click.group()
def publisher() -> None:
    """Trusted publishers: GitHub workflows that exchange their OIDC identity for 15-minute tokens."""


@publisher.command("add")
@click.option("--org", "org_name", required=True)
@click.option("--repository", required=True, metavar="OWNER/REPO")
@click.option("--workflow", required=True, metavar="FILE.yml", help="The workflow's file name in .github/workflows/.")
@click.option("--environment", help="Only jobs running in this GitHub environment.")
@click.option("--project", "projects", multiple=True, metavar="NAME",
              help="A project the tokens may reach (repeatable); default: every project of the organization.")
@click.option("--scope", type=click.Choice([s.value for s in TokenScope]), default=TokenScope.upload.value,
              show_default=True, help="upload: publish; read: install private dependencies.")
@friendly_errors
def publisher_add(org_name: str, repository: str, workflow: str, environment: str | None,
                  projects: tuple[str, ...], scope: str) -> None:
    """Trust a workflow; its id is printed alone on the last line."""
    from envelope.publishing.publishers import add_publisher, describe

    runtime = open_runtime()
    with runtime.db.write() as session:
        organization = organizations.get_organization(session, org_name)
        added = add_publisher(session, organization, repository=repository, workflow=workflow,
                              environment=environment, projects=projects, scope=scope, actor=actor())
        reach = ", ".join(added.projects) or f"every project of {org_name}"
        click.echo(f"Trusted {describe(added)} to mint {added.scope} tokens for {reach}, 15 minutes each.")
    click.echo("The workflow needs `permissions: id-token: write`; docs/trusted-publishing.md has the steps.")
    if added.scope == TokenScope.upload:
        echo_public_url("Upload URL", runtime.settings, f"/{org_name}/legacy/")
    else:
        echo_public_url("Index URL", runtime.settings, f"/{org_name}/simple/")
    click.echo(added.id)


def _row(p) -> dict:
    return {
        "id": p.id, "repository": p.repository, "workflow": p.workflow, "environment": p.environment or None,
        "scope": p.scope, "projects": p.projects, "created": p.created.isoformat(),
        "last_used": p.last_used.isoformat() if p.last_used else None,
    }


@publisher.command("list")
@click.option("--org", "org_name", required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def publisher_list(org_name: str, as_json: bool) -> None:
    from envelope.publishing.publishers import list_publishers

    with open_runtime().db.read() as session:
        rows = [_row(p) for p in list_publishers(session, organizations.get_organization(session, org_name))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['repository']}\t{r['workflow']}\t{r['environment'] or 'any environment'}\t"
                   f"{r['scope']}\t{', '.join(r['projects']) or 'all projects'}\tlast used {r['last_used'] or 'never'}")


@publisher.command("remove")
@click.argument("publisher_id", type=int)
@friendly_errors
def publisher_remove(publisher_id: int) -> None:
    from envelope.publishing.publishers import describe, find_publisher, remove_publisher

    with open_runtime().db.write() as session:
        found = find_publisher(session, publisher_id)
        label = describe(found)
        remove_publisher(session, found, actor=actor())
    click.echo(f"Removed trusted publisher #{publisher_id} ({label}); its live tokens are revoked.")
