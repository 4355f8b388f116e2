"""`envelope project …`: what is set on a project as a whole (PEP 792 status)."""
from __future__ import annotations

import click

from cli.common import actor, friendly_errors, open_runtime
from envelope.models import ProjectStatus
from envelope.orgs import organizations


@click.group()
def project() -> None:
    """Projects."""


@project.command("status")
@click.argument("org_name", metavar="ORG")
@click.argument("name", metavar="PROJECT")
@click.argument("status", required=False, type=click.Choice([s.value for s in ProjectStatus], case_sensitive=False))
@click.option("--reason", help="Shown beside the status on the index and the project page.")
@friendly_errors
def project_status(org_name: str, name: str, status: str | None, reason: str | None) -> None:
    """Show or set a project's status (PEP 792): active, archived (no new
    uploads), quarantined (no uploads, no files offered) or deprecated."""
    from envelope.orgs.membership import operator_access
    from envelope.packaging.project_status import change_status
    from envelope.packaging.releases import find_project

    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, org_name)
        if status is None:
            if reason is not None:
                raise click.UsageError("--reason needs a STATUS to go with it.")
            found = find_project(session, organization, name)
        else:
            found = change_status(session, operator_access(organization, actor()), name, status, reason=reason)
        line = f"{found.name} in {org_name}: {ProjectStatus(found.status).value}"
        if found.status_reason:
            line += f" ({found.status_reason})"
    click.echo(line + ".")
