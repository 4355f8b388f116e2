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
@click.option("--stripe-price", metavar="PRICE", help="The Stripe price (price_…) that pays for it, or 'none'; unchanged if left out.")
@click.option("--default", "default", is_flag=True, default=None,
              help="Make it the plan new organizations join and unpaid ones fall back to.")
@friendly_errors
def plan_set(name: str, storage: str, downloads: str, members: str, stripe_price: str | None,
             default: bool | None) -> None:
    """Define a plan, or change its limits: every organization on it follows."""
    from envelope import plans, quotas

    limits = quotas.Limits(quotas.parse_limit(storage), quotas.parse_limit(downloads),
                           quotas.parse_limit(members, members=True))
    price: str | None | object = plans.KEEP if stripe_price is None else (None if stripe_price == "none" else stripe_price)
    with open_runtime().db.write() as session:
        plan = plans.define_plan(session, name, limits, stripe_price=price, default=default or None)
        on_it = dict((p.name, n) for p, n in plans.list_plans(session))[name]
        extras = "".join([f"; sold as Stripe price {plan.stripe_price}" if plan.stripe_price else "",
                          "; the default plan" if plan.is_default else ""])
    click.echo(f"Plan {name}: {quotas.describe_limits(limits)}; {on_it} organization{'s' if on_it != 1 else ''} on it{extras}.")


@plan.command("list")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def plan_list(as_json: bool) -> None:
    """Every plan, its limits and how many organizations are on it."""
    from envelope import plans, quotas

    with open_runtime().db.read() as session:
        rows = [(p.name, plans.plan_limits(p), n, p.stripe_price, p.is_default) for p, n in plans.list_plans(session)]
    if as_json:
        click.echo(json.dumps([{"name": name, "limits": quotas.limits_json(limits), "organizations": n,
                                "stripe_price": price, "default": default}
                               for name, limits, n, price, default in rows], indent=2))
        return
    for name, limits, n, price, default in rows:
        extras = "".join([f"; Stripe price {price}" if price else "", "; default" if default else ""])
        click.echo(f"{name}: {quotas.describe_limits(limits)}; {n} organization{'s' if n != 1 else ''}{extras}.")
