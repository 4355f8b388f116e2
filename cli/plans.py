"""`envelope plan …`: named sets of limits organizations follow (docs/quotas.md)."""
from __future__ import annotations

import json

import click

from cli.common import friendly_errors, open_runtime


@click.group()
def plan() -> None:
    """Plans: named limits (storage, downloads per month, members) organizations follow."""


@plan.command("set")
@click.argument("name")
@click.option("--storage", metavar="SIZE", default="none", show_default=True, help="Most bytes an organization's files may take, e.g. 10GB.")
@click.option("--downloads", metavar="SIZE", default="none", show_default=True, help="Most bytes downloaded per calendar month (UTC).")
@click.option("--members", metavar="N", default="none", show_default=True, help="Most members.")
@friendly_errors
def plan_set(name: str, storage: str, downloads: str, members: str) -> None:
    """Define a plan, or change its limits: every organization on it follows."""
    from envelope import plans, quotas

    limits = quotas.Limits(quotas.parse_limit(storage), quotas.parse_limit(downloads),
                           quotas.parse_limit(members, members=True))
    with open_runtime().db.write() as session:
        plans.define_plan(session, name, limits)
        on_it = dict((p.name, n) for p, n in plans.list_plans(session))[name]
    click.echo(f"Plan {name}: {quotas.describe_limits(limits)}; {on_it} organization{'s' if on_it != 1 else ''} on it.")


@plan.command("list")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def plan_list(as_json: bool) -> None:
    """Every plan, its limits and how many organizations are on it."""
    from envelope import plans, quotas

    with open_runtime().db.read() as session:
        rows = [(p.name, plans.plan_limits(p), n) for p, n in plans.list_plans(session)]
    if as_json:
        click.echo(json.dumps([{"name": name, "limits": quotas.limits_json(limits), "organizations": n}
                               for name, limits, n in rows], indent=2))
        return
    for name, limits, n in rows:
        click.echo(f"{name}: {quotas.describe_limits(limits)}; {n} organization{'s' if n != 1 else ''}.")
