"""`envelope token …`, `yank` and `unyank`: access tokens and what installers see."""
from __future__ import annotations

import json

import click

from cli.common import actor, friendly_errors, open_runtime
from envelope.accounts import users as accounts
from envelope.orgs import organizations
from envelope.errors import InvalidInput
from envelope.models import TokenScope
from envelope.models.base import utcnow
from envelope.orgs import member_tokens as org_tokens
from envelope.orgs import tokens
from envelope.packaging import releases


@click.group()
def token() -> None:
    """Access tokens."""


@token.command("create")
@click.option("--org", "org_name", required=True)
@click.option("--user", "username", help="Act as this user: never more than the user's role.")
@click.option("--name", default=None, help="A label to recognise the token by.")
@click.option("--scope", type=click.Choice([s.value for s in TokenScope]), default=TokenScope.read.value, show_default=True)
@click.option("--project", "projects", multiple=True, metavar="NAME[SPECIFIER]", help="Limit to a project, optionally to versions, e.g. 'billing>=1,<2'. Repeatable.")
@click.option("--expires", help="never (the default), 30d, 2h, 45m, 1w, a date (through that day) or an ISO-8601 date/time.")
@friendly_errors
def token_create(org_name, username, name, scope, projects, expires) -> None:
    """Create a token; it is printed once, alone on the last line."""
    from envelope.orgs.membership import operator_access

    expiry = tokens.parse_expiry(expires) if expires else None
    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, org_name)
        owner = accounts.get_user(session, username) if username else None
        issued = tokens.create_token(
            session, operator_access(organization, actor()), name=name or f"{scope} token", scope=scope,
            projects=projects, expires=expiry, user=owner,
        )
    t = issued.token
    limits = ", ".join(f"{r['project']}{r['specifier']}" for r in t.restrictions) or "all projects"
    click.echo(
        f"Created token #{t.id} {t.name!r} for {org_name}: scope {scope}, {limits}, "
        f"expires {t.expires:%Y-%m-%d %H:%M} UTC." if t.expires else
        f"Created token #{t.id} {t.name!r} for {org_name}: scope {scope}, {limits}, never expires."
    )
    click.echo("Store it now: it is not shown again.")
    click.echo(issued.secret)


@token.command("list")
@click.option("--org", "org_name", required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def token_list(org_name: str, as_json: bool) -> None:
    with open_runtime().db.read() as session:
        organization = organizations.get_organization(session, org_name)
        # The web page's statuses (active, revoked, expired, orphaned), from the one function.
        members, now = org_tokens.member_ids(session, organization.id), utcnow()
        rows = [org_tokens.token_record(t, org_tokens.token_status(t, members, now))
                for t in tokens.list_tokens(session, organization)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "scope", "projects", "expires", "last used", "status", box=None)
    for r in rows:
        table.add_row(
            str(r["id"]), r["name"], r["scope"], ", ".join(r["projects"]) or "all",
            (r["expires"] or "never")[:16], (r["last_used"] or "never")[:16], r["status"],
        )
    Console().print(table)


@token.command("revoke")
@click.argument("token_id", type=int)
@friendly_errors
def token_revoke(token_id: int) -> None:
    with open_runtime().db.write() as session:
        revoked = tokens.revoke_token(session, token_id, actor=actor())
    click.echo(f"Revoked token #{revoked.id} {revoked.name!r}.")


def _project_version(spec: str) -> tuple[str, str]:
    name, sep, version = spec.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise InvalidInput(f"Expected PROJECT==VERSION, got {spec!r}.")
    return name.strip(), version.strip()


def _yank_command(yanked: bool):
    @click.option("--org", "org_name", required=True)
    @click.argument("spec", metavar="PROJECT==VERSION")
    @click.option("--file", "filename", help="Only this file of the release.")
    @friendly_errors
    def command(org_name: str, spec: str, filename: str | None, reason: str | None = None) -> None:
        name, version = _project_version(spec)
        from envelope.orgs.membership import operator_access

        with open_runtime().db.write() as session:
            organization = organizations.get_organization(session, org_name)
            files = releases.change_yank(
                session, operator_access(organization, actor()), name, version,
                yanked=yanked, reason=reason, filename=filename,
            )
        verb = "Yanked" if yanked else "Unyanked"
        for f in files:
            click.echo(f"{verb} {f.filename}")

    return command


yank = click.command("yank", help="Yank a release (or one file): installers skip it unless pinned.")(
    click.option("--reason", help="Shown to people who install it anyway.")(_yank_command(True))
)
unyank = click.command("unyank", help="Undo a yank.")(_yank_command(False))
