"""`envelope github-app status`: the instance's GitHub App, for headless setups.

The App is created in the browser (GitHub's manifest flow needs a person
signed in to GitHub); this shows what exists and where it is installed."""
from __future__ import annotations

import json

import click

from cli.common import friendly_errors, open_runtime


@click.group("github-app")
def github_app() -> None:
    """The instance's GitHub App."""


@github_app.command("status")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def status(as_json: bool) -> None:
    from envelope.github.app import app_status

    runtime = open_runtime()
    with runtime.db.read() as session:
        report = app_status(session, runtime.settings)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    app = report["app"]
    if app is None:
        click.echo("No GitHub App. An administrator creates it in the web UI: "
                   f"{runtime.settings.base_url}/admin/github-app")
        return
    click.echo(f"App: {app['name']} ({app['slug']}, id {app['app_id']}) {app['html_url']}")
    click.echo(f"Webhook URL: {report['webhook_url']}")
    click.echo(f"Install URL: {report['install_url']}")
    for inst in report["installations"]:
        click.echo(f"  {inst['account']}\t{inst['status']}\t{inst['organization'] or 'not connected'}\t"
                   f"{inst['connections']} connection(s)")
