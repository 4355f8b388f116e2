"""The `envelope` command: thin click wrappers around envelope's services."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli import github_app, lifecycle, orgs, plans, projects, publishers, repos, tokens
from cli.common import actor, friendly_errors, open_runtime
from cli.processes import DEFAULT_WEB_WORKERS, SERVE_WEB_WORKERS
from envelope.config import Settings


@click.group()
def main() -> None:
    """Envelope: a private Python package index."""
    from envelope.data_dir import restrict_new_files_to_owner

    restrict_new_files_to_owner()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=SERVE_WEB_WORKERS, show_default=True, help="web server (gunicorn) worker processes")
@friendly_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve the index with gunicorn, plus a Celery worker running beat, supervised."""
    from cli.serve import check_port_free, exec_supervisor
    from envelope.config import served_base_url
    from envelope.migrate import upgrade

    # Without ENVELOPE_BASE_URL, links in mail point at the address served here.
    settings = Settings.from_env(default_base_url=served_base_url(host, port))
    check_port_free(host, port)
    upgrade(settings.database_url)
    exec_supervisor(settings, host=host, port=port, workers=workers)


@main.command()
@click.argument("url")
@click.argument("project", required=False)
@click.option("--token", metavar="TOKEN", help="The access token, when the URL does not carry it.")
def doctor(url: str, project: str | None, token: str | None) -> None:
    """Try a token against an index (URL: https://__token__:TOKEN@HOST/ORG/simple/)
    and say in one sentence what works or what is wrong; with PROJECT, whether
    the token can install it. Needs only HTTP access, no database."""
    from envelope.doctor import Unusable, diagnose, parse_target

    try:
        finding = diagnose(parse_target(url, token=token, project=project))
    except Unusable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if not finding.ok:
        click.echo(f"Error: {finding.sentence}", err=True)
        sys.exit(1)
    click.echo(finding.sentence)


@main.command()
@friendly_errors
def migrate() -> None:
    """Apply database migrations (the Procfile's release phase)."""
    from envelope.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo("Database schema is up to date.")


@main.command("import")
@click.option("--org", "org_name", required=True)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@friendly_errors
def import_(org_name: str, paths: tuple[Path, ...]) -> None:
    """Bulk import wheels and sdists (files or directories)."""
    from cli.bulk_import import import_files

    failures = import_files(open_runtime(), org_name, paths, actor=actor())
    if failures:
        sys.exit(1)


@main.group()
def ci() -> None:
    """GitHub Actions workflow: tag -> build -> publish to Envelope."""


@ci.command("init")
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["pure", "native"]), default=None,
              help="pure: one `python -m build` job; native: the cibuildwheel matrix. "
                   "Default: detected from pyproject.toml and the sources.")
@click.option("--publish", type=click.Choice(["trusted", "release"]), default="trusted", show_default=True,
              help="trusted: upload to Envelope by trusted publishing (no stored secret); "
                   "release: attach the files to the GitHub release (webhook/poll).")
@click.option("--private-deps", is_flag=True,
              help="Add a step that exchanges the job's OIDC token for a 15-minute read token "
                   "for private dependencies (pip and uv).")
@click.option("--force", is_flag=True, help="Overwrite an existing workflow file.")
@friendly_errors
def ci_init(path: Path, kind: str | None, publish: str, private_deps: bool, force: bool) -> None:
    """Write .github/workflows/release-wheels.yml, fitted to the project in PATH."""
    from cli.ci_init import choose, explain, write_workflow

    choice = choose(path, kind=kind, publish=publish, private_deps=private_deps)  # type: ignore[arg-type]
    written = write_workflow(path, choice, force=force)
    for line in explain(choice):
        click.echo(line)
    click.echo(f"Wrote {written}; commit it, then see ci/README.md.")


@main.command("process")
@click.argument("name", type=click.Choice(["web", "worker", "beat"]))
@click.option("--host", default="127.0.0.1", show_default=True, help="web: address to bind")
@click.option("--port", default=8080, show_default=True, type=int, help="web: port to bind")
@click.option("--workers", default=DEFAULT_WEB_WORKERS, show_default=True, type=int,
              help="web: gunicorn worker processes")
@click.option("--concurrency", default=2, show_default=True, type=int, help="worker: task processes")
@click.option("--dry-run", is_flag=True, help="Print the command line (JSON) instead of running it.")
@friendly_errors
def process(name: str, host: str, port: int, workers: int, concurrency: int, dry_run: bool) -> None:
    """Become one of Envelope's processes (what the Procfile and docker-compose
    run; `envelope serve` starts the same command lines, see cli/processes.py)."""
    from cli.processes import command, exec_process

    argv = command(name, Settings.from_env(), host=host, port=port, workers=workers, concurrency=concurrency)
    if dry_run:
        click.echo(json.dumps(argv))
        return
    exec_process(argv)


for _command in (orgs.org, orgs.user, projects.project, tokens.token, tokens.yank, tokens.unyank, repos.repo, repos.sync_now,
                 publishers.publisher, github_app.github_app, lifecycle.retention, lifecycle.collect, plans.plan):
    main.add_command(_command)
