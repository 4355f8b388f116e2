"""The `envelope` command: thin click wrappers around envelope's services."""
from __future__ import annotations

import functools
import getpass
import json
import sys
from pathlib import Path
from typing import Callable, TypeVar

import click

from envelope.accounts import users as accounts
from envelope.orgs import member_tokens as org_tokens
from envelope.packaging import releases
from envelope.orgs import tokens
from envelope.models.base import utcnow
from envelope.config import Settings
from envelope.errors import EnvelopeError, InvalidInput
from envelope.models import AssetOutcome, Role, RunStatus, TokenScope
from envelope.runtime import Runtime

T = TypeVar("T")


def _actor() -> str:
    return f"cli {getpass.getuser()}"


def _runtime() -> Runtime:
    """The instance the server uses, schema brought up to date. Refuses
    (NoInstance, naming where it looked) rather than create an empty one:
    only `serve` and `migrate` start an instance."""
    from envelope.config import instance_location
    from envelope.migrate import require_instance, upgrade

    data_dir, database_url = instance_location()
    require_instance(database_url, data_dir)
    settings = Settings.from_env()
    upgrade(settings.database_url)
    return Runtime.from_settings(settings)


def friendly_errors(command: Callable[..., T]) -> Callable[..., T]:
    """EnvelopeError -> one sentence on stderr and exit status 1, no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EnvelopeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper


@click.group()
def main() -> None:
    """Envelope: a private Python package index."""
    from envelope.config import restrict_new_files_to_owner

    restrict_new_files_to_owner()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@friendly_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve the index with gunicorn, plus a Celery worker and beat, supervised."""
    from cli.serve import serve_forever

    from envelope.config import served_base_url
    from envelope.migrate import upgrade

    # Without ENVELOPE_BASE_URL, links in mail point at the address served here.
    settings = Settings.from_env(default_base_url=served_base_url(host, port))
    upgrade(settings.database_url)
    serve_forever(settings, host=host, port=port, workers=workers)


@main.command()
@friendly_errors
def migrate() -> None:
    """Apply database migrations (the Procfile's release phase)."""
    from envelope.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo("Database schema is up to date.")


@main.group()
def org() -> None:
    """Organizations."""


def _echo_public_url(label: str, settings: Settings, path: str) -> None:
    """Print an absolute URL for others (pip, GitHub); when ENVELOPE_BASE_URL
    is unset its host is only the default, so say how to make it right."""
    click.echo(f"{label}: {settings.base_url}{path}")
    if not settings.base_url_configured:
        click.echo(
            f"ENVELOPE_BASE_URL is not set, so this URL uses {settings.base_url}: set ENVELOPE_BASE_URL "
            "to the address others reach this index at (for a webhook, one GitHub can reach)."
        )


@org.command("create")
@click.argument("name")
@click.option("--owner", "owner_name", metavar="USERNAME", help="Its first owner; without one an administrator claims it in the web UI.")
@friendly_errors
def org_create(name: str, owner_name: str | None) -> None:
    """Create an organization (an index of its own at /ORG/simple/)."""
    runtime = _runtime()
    with runtime.db.write() as session:
        owner = accounts.get_user(session, owner_name) if owner_name else None
        accounts.create_organization(session, name, owner=owner, actor=_actor())
    click.echo(f"Created organization {name}" + (f", owned by {owner_name}." if owner_name else
               ", with no owner yet: an administrator can claim it in the web UI (Admin settings)."))
    _echo_public_url("Index URL", runtime.settings, f"/{name}/simple/")


@org.command("add-member")
@click.argument("name")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.reader.value, show_default=True)
@friendly_errors
def org_add_member(name: str, username: str, role: str) -> None:
    """Add a user to an organization, or change their role there."""
    with _runtime().db.write() as session:
        organization = accounts.get_organization(session, name)
        accounts.add_member(session, organization, accounts.get_user(session, username), Role(role), actor=_actor())
    click.echo(f"{username} is now a {role} of {name}.")


@org.command("proxy")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Proxy names not published here to PyPI's simple API.")
@click.option("--upstream", metavar="URL", help="Proxy to this simple index instead (credentials may be in the URL).")
@click.option("--disable", is_flag=True, help="Stop proxying: only private projects are served.")
@click.option("--reserve", multiple=True, metavar="PATTERN", help="Never proxy names matching this, e.g. 'acme-*'. Repeatable.")
@click.option("--unreserve", multiple=True, metavar="PATTERN", help="Remove a reserved pattern. Repeatable.")
@friendly_errors
def org_proxy(name: str, enable: bool, upstream: str | None, disable: bool,
              reserve: tuple[str, ...], unreserve: tuple[str, ...]) -> None:
    """Show or change the organization's upstream proxy (off until enabled)."""
    from envelope.upstream import proxy
    from envelope.orgs.membership import operator_access

    if disable and (enable or upstream):
        raise InvalidInput("Give either --disable or --enable/--upstream, not both.")
    runtime = _runtime()
    with runtime.db.write() as session:
        organization = accounts.get_organization(session, name)
        if enable or upstream or disable or reserve or unreserve:
            proxy.change_settings(
                session, operator_access(organization, _actor()), runtime.settings,
                enabled=False if disable else True if enable or upstream else None,
                upstream_url=upstream, reserve=reserve, unreserve=unreserve,
            )
        url, sealed, reserved = organization.upstream_url, organization.upstream_credentials_sealed, organization.reserved_names
    state = f"on, {url}" + (" (with credentials)" if sealed else "") if url else "off"
    click.echo(f"Upstream proxy for {name}: {state}.")
    click.echo("Reserved names, never proxied: " + (", ".join(reserved) or "none") + ".")


@main.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--admin", is_flag=True, help="May administer the whole instance.")
@click.option("--org", "orgs", multiple=True, metavar="ORG[:ROLE]", help="Add to ORG (role reader, maintainer or owner; default reader).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@friendly_errors
def user_create(username: str, email: str, admin: bool, orgs: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account; the instance's first account is its administrator."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _runtime().db.write() as session:
        new_user = accounts.create_account(
            session, username, email=email, password=password, is_admin=admin, actor=_actor()
        )
        for text in orgs:
            org_name, role = accounts.parse_org_role(text)
            organization = accounts.get_organization(session, org_name)
            accounts.add_member(session, organization, new_user, role, actor=_actor())
        made_admin = new_user.is_admin and not admin
    click.echo(f"Created user {username}" + (
        ", the instance's first account and so its administrator." if made_admin else "."))


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def user_list(as_json: bool) -> None:
    """Every account; the id is the first column."""
    with _runtime().db.read() as session:
        rows = [
            {"id": u.id, "username": u.username, "email": u.email, "admin": u.is_admin,
             "active": u.is_active, "verified": u.email_verified is not None}
            for u in accounts.list_users(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "username", "email", "admin", "active", "verified", box=None)
    for r in rows:
        table.add_row(str(r["id"]), r["username"], r["email"],
                      *("yes" if r[k] else "no" for k in ("admin", "active", "verified")))
    Console().print(table)


@user.command("set-admin")
@click.argument("username")
@click.option("--off", is_flag=True, help="Remove administration instead of granting it.")
@friendly_errors
def user_set_admin(username: str, off: bool) -> None:
    """Make a user an administrator of the instance (or, with --off, no longer one)."""
    with _runtime().db.write() as session:
        accounts.set_admin(session, accounts.get_user(session, username), not off, actor=_actor())
    click.echo(f"{username} is {'no longer' if off else 'now'} an administrator.")


@main.group()
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
    with _runtime().db.write() as session:
        organization = accounts.get_organization(session, org_name)
        owner = accounts.get_user(session, username) if username else None
        issued = tokens.create_token(
            session, operator_access(organization, _actor()), name=name or f"{scope} token", scope=scope,
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
    with _runtime().db.read() as session:
        organization = accounts.get_organization(session, org_name)
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
    with _runtime().db.write() as session:
        revoked = tokens.revoke_token(session, token_id, actor=_actor())
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

        with _runtime().db.write() as session:
            organization = accounts.get_organization(session, org_name)
            files = releases.change_yank(
                session, operator_access(organization, _actor()), name, version,
                yanked=yanked, reason=reason, filename=filename,
            )
        verb = "Yanked" if yanked else "Unyanked"
        for f in files:
            click.echo(f"{verb} {f.filename}")

    return command


main.command("yank", help="Yank a release (or one file): installers skip it unless pinned.")(
    click.option("--reason", help="Shown to people who install it anyway.")(_yank_command(True))
)
main.command("unyank", help="Undo a yank.")(_yank_command(False))


@main.command("import")
@click.option("--org", "org_name", required=True)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@friendly_errors
def import_(org_name: str, paths: tuple[Path, ...]) -> None:
    """Bulk import wheels and sdists (files or directories)."""
    from cli.bulk_import import import_files

    failures = import_files(_runtime(), org_name, paths, actor=_actor())
    if failures:
        sys.exit(1)


@main.group()
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

    runtime = _runtime()
    with runtime.db.write() as session:
        organization = accounts.get_organization(session, org_name)
        new = add_repository(session, runtime.settings.secret_key, organization, full_name,
                             github_token=github_token, projects=projects, actor=_actor())
    allowed = ", ".join(new.connection.allowed_projects) or "any project of " + org_name
    click.echo(f"Connected {new.connection.full_name} to {org_name}; it may publish {allowed}.")
    click.echo("Add a webhook in GitHub (Settings -> Webhooks): content type application/json,")
    click.echo("events: Releases. The secret is shown only now.")
    _echo_public_url("Webhook URL", runtime.settings, "/hooks/github")
    click.echo(f"Webhook secret: {new.webhook_secret}")


def _repo_row(connection) -> dict:
    return {
        "repository": connection.full_name,
        "projects": connection.allowed_projects or None,
        "private": connection.github_token_sealed is not None,
        "last_polled": connection.last_polled.isoformat() if connection.last_polled else None,
        "created": connection.created.isoformat(),
    }


@repo.command("list")
@click.option("--org", "org_name", required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def repo_list(org_name: str, as_json: bool) -> None:
    from envelope.github.repositories import list_repositories

    with _runtime().db.read() as session:
        organization = accounts.get_organization(session, org_name)
        rows = [_repo_row(c) for c in list_repositories(session, organization)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        projects = ", ".join(r["projects"] or ["any project"])
        click.echo(f"{r['repository']}\t{projects}\t{'private' if r['private'] else 'public'}\t"
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

    with _runtime().db.write() as session:
        remove_repository(session, full_name, actor=_actor(), org_name=org_name)
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

    with _runtime().db.read() as session:
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


@main.command("sync")
@click.argument("full_name", metavar="OWNER/REPO")
@ORG_OF_CONNECTION
@friendly_errors
def sync_now(full_name: str, org_name: str | None) -> None:
    """Ingest every release of a connected repository now, in the foreground."""
    from cli.sync_progress import run_with_progress

    status = run_with_progress(_runtime(), full_name, org_name, actor=_actor())
    if status != RunStatus.succeeded:
        sys.exit(1)


@main.group()
def ci() -> None:
    """GitHub Actions workflow for tag -> wheels -> release."""


@ci.command("init")
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing workflow file.")
@friendly_errors
def ci_init(path: Path, force: bool) -> None:
    from cli.ci_init import write_workflow

    written = write_workflow(path, force=force)
    click.echo(f"Wrote {written}; commit it, then see ci/README.md for the webhook.")


@main.command("process")
@click.argument("name", type=click.Choice(["web", "worker", "beat"]))
@click.option("--host", default="127.0.0.1", show_default=True, help="web: address to bind")
@click.option("--port", default=8080, show_default=True, type=int, help="web: port to bind")
@click.option("--workers", default=2, show_default=True, type=int, help="web: gunicorn worker processes")
@click.option("--concurrency", default=2, show_default=True, type=int, help="worker: task processes")
@click.option("--dry-run", is_flag=True, help="Print the command line (JSON) instead of running it.")
@friendly_errors
def process(name: str, host: str, port: int, workers: int, concurrency: int, dry_run: bool) -> None:
    """Become one of Envelope's processes (what the Procfile and docker-compose
    run; `envelope serve` starts the same command lines, see envelope/processes.py)."""
    from cli.processes import command, exec_process

    argv = command(name, Settings.from_env(), host=host, port=port, workers=workers, concurrency=concurrency)
    if dry_run:
        click.echo(json.dumps(argv))
        return
    exec_process(argv)
