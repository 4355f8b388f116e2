"""`envelope org …` and `envelope user …`: organizations, members, accounts."""
from __future__ import annotations

import json
import sys

import click

from cli.common import actor, echo_public_url, friendly_errors, open_runtime
from envelope.accounts import users as accounts
from envelope.orgs import organizations
from envelope.errors import InvalidInput
from envelope.models import Role


@click.group()
def org() -> None:
    """Organizations."""




@org.command("create")
@click.argument("name")
@click.option("--owner", "owner_name", metavar="USERNAME", help="Its first owner; without one an administrator claims it in the web UI.")
@friendly_errors
def org_create(name: str, owner_name: str | None) -> None:
    """Create an organization (an index of its own at /ORG/simple/)."""
    runtime = open_runtime()
    with runtime.db.write() as session:
        owner = accounts.get_user(session, owner_name) if owner_name else None
        organizations.create_organization(session, name, owner=owner, actor=actor())
        nobody_yet = not accounts.has_accounts(session)
    if owner_name:
        click.echo(f"Created organization {name}, owned by {owner_name}.")
    elif nobody_yet:
        click.echo(f"Created organization {name}; the instance's first account (the sign-up page or "
                   "`envelope user create`) becomes its owner and the instance's administrator.")
    else:
        click.echo(f"Created organization {name}, with no owner yet: an administrator can claim it "
                   "in the web UI (Admin settings).")
    echo_public_url("Index URL", runtime.settings, f"/{name}/simple/")


@org.command("add-member")
@click.argument("name")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.reader.value, show_default=True)
@friendly_errors
def org_add_member(name: str, username: str, role: str) -> None:
    """Add a user to an organization, or change their role there."""
    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, name)
        organizations.add_member(session, organization, accounts.get_user(session, username), Role(role), actor=actor())
    click.echo(f"{username} is now {Role(role).with_article} of {name}.")


@org.command("proxy")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Proxy names not published here to PyPI's simple API.")
@click.option("--upstream", metavar="URL", help="Proxy to this simple index instead (credentials may be in the URL).")
@click.option("--disable", is_flag=True, help="Stop proxying: only private projects are served.")
@click.option("--reserve", multiple=True, metavar="PATTERN", help="Never proxy names matching this, e.g. 'acme-*'. Repeatable.")
@click.option("--unreserve", multiple=True, metavar="PATTERN", help="Remove a reserved pattern. Repeatable.")
@click.option("--min-age", metavar="AGE",
              help="Offer upstream files only this long after the upstream published them, e.g. 3d, 12h; 0 turns it off.")
@click.option("--cache-max-size", metavar="SIZE",
              help="Keep at most this much of cached upstream files, e.g. 5GB (least recently used go first); 'none': no limit.")
@click.option("--cache-max-age", metavar="AGE",
              help="Evict cached upstream files unused for this long, e.g. 90d; 'none': no limit.")
@friendly_errors
def org_proxy(name: str, enable: bool, upstream: str | None, disable: bool,
              reserve: tuple[str, ...], unreserve: tuple[str, ...], min_age: str | None,
              cache_max_size: str | None, cache_max_age: str | None) -> None:
    """Show or change the organization's upstream proxy (off until enabled)."""
    from envelope.orgs.membership import operator_access
    from envelope.upstream import proxy
    from envelope.lifecycle import upstream_cache
    from envelope.quotas import format_bytes, upstream_cached
    from envelope.upstream.hold import format_min_age, parse_min_age

    if disable and (enable or upstream):
        raise InvalidInput("Give either --disable or --enable/--upstream, not both.")
    age = parse_min_age(min_age) if min_age is not None else None
    max_size = upstream_cache.parse_max_size(cache_max_size) if cache_max_size is not None else None
    max_age = upstream_cache.parse_max_age(cache_max_age) if cache_max_age is not None else None
    runtime = open_runtime()
    with runtime.db.write() as session:
        organization = organizations.get_organization(session, name)
        budget = None
        if cache_max_size is not None or cache_max_age is not None:  # an option left out stays as it is
            current = upstream_cache.budget_of(organization)
            budget = upstream_cache.Budget(max_size if cache_max_size is not None else current.max_bytes,
                                           max_age if cache_max_age is not None else current.max_age)
        if enable or upstream or disable or reserve or unreserve or age is not None or budget is not None:
            proxy.change_settings(
                session, operator_access(organization, actor()), runtime.settings,
                enabled=False if disable else True if enable or upstream else None,
                upstream_url=upstream, reserve=reserve, unreserve=unreserve, min_age=age, cache_budget=budget,
            )
        url, sealed, reserved = organization.upstream_url, organization.upstream_credentials_sealed, organization.reserved_names
        shown_age, held_total = organization.upstream_min_age, organization.upstream_held_total
        shown_budget = upstream_cache.budget_of(organization)
        cached_bytes, cached_files = upstream_cached(session, organization.id)
    state = f"on, {url}" + (" (with credentials)" if sealed else "") if url else "off"
    click.echo(f"Upstream proxy for {name}: {state}.")
    click.echo("Reserved names, never proxied: " + (", ".join(reserved) or "none") + ".")
    click.echo(f"Minimum age of upstream files: {format_min_age(shown_age) if shown_age else 'none, offered at once'}"
               f" ({held_total} version{'s' if held_total != 1 else ''} held back so far).")
    click.echo(f"Cache budget: {shown_budget.describe()}; cached now: {format_bytes(cached_bytes)} "
               f"in {cached_files} file{'s' if cached_files != 1 else ''}.")


@org.command("quota")
@click.argument("name")
@click.option("--storage", metavar="SIZE", help="Most bytes its files may take, e.g. 10GB; 'none' for no limit.")
@click.option("--downloads", metavar="SIZE", help="Most bytes downloaded per calendar month (UTC), e.g. 100GB; 'none' for no limit.")
@click.option("--members", metavar="N", help="Most members; 'none' for no limit.")
@click.option("--json", "as_json", is_flag=True, help="Print limits and this month's usage as JSON.")
@friendly_errors
def org_quota(name: str, storage: str | None, downloads: str | None, members: str | None, as_json: bool) -> None:
    """Show or set an organization's limits, with what it uses this month (options left out
    stay as they are; setting any takes the organization off its plan)."""
    from envelope import plans, quotas

    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, name)
        limits = quotas.get_limits(session, organization.id)
        if storage is not None or downloads is not None or members is not None:
            limits = quotas.set_limits(session, organization, quotas.Limits(
                limits.storage_bytes if storage is None else quotas.parse_limit(storage),
                limits.download_bytes if downloads is None else quotas.parse_limit(downloads),
                limits.members if members is None else quotas.parse_limit(members, members=True),
            ), actor=actor())
        used = quotas.org_usage(session, organization.id)
        plan_name = plans.plan_of(session, organization.id)
    if as_json:
        click.echo(json.dumps({"plan": plan_name, "limits": quotas.limits_json(limits),
                               "usage": quotas.usage_json(used)}, indent=2))
        return
    click.echo(f"Plan: {plan_name}." if plan_name else "Plan: none (its own limits).")
    for line in quotas.describe(limits, used):
        click.echo(line)


@org.command("plan")
@click.argument("name")
@click.argument("plan_name", metavar="PLAN")
@friendly_errors
def org_plan(name: str, plan_name: str) -> None:
    """Put an organization on a plan (`envelope plan set` defines them); 'none': no plan and no limits."""
    from envelope import plans, quotas

    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, name)
        plans.assign_plan(session, organization, None if plan_name == "none" else plan_name, actor=actor())
        limits = quotas.get_limits(session, organization.id)
    if plan_name == "none":
        click.echo(f"{name} is on no plan and has no limits.")
    else:
        click.echo(f"{name} is on plan {plan_name}: {quotas.describe_limits(limits)}.")


@click.group()
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
    with open_runtime().db.write() as session:
        new_user = accounts.create_account(
            session, username, email=email, password=password, is_admin=admin, actor=actor(), claim_ownerless=False
        )
        named = []
        for text in orgs:
            org_name, role = organizations.parse_org_role(text)
            organization = organizations.get_organization(session, org_name)
            organizations.add_member(session, organization, new_user, role, actor=actor())
            named.append(org_name)
        made_admin = new_user.is_admin and not admin
        if made_admin:  # the first account: it owns what nobody owns, but the roles given here stand
            accounts.claim_ownerless_organizations(session, new_user, skip=named)
    click.echo(f"Created user {username}" + (
        ", the instance's first account and so its administrator." if made_admin else "."))


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def user_list(as_json: bool) -> None:
    """Every account; the id is the first column."""
    with open_runtime().db.read() as session:
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
    with open_runtime().db.write() as session:
        accounts.set_admin(session, accounts.get_user(session, username), not off, actor=actor())
    click.echo(f"{username} is {'no longer' if off else 'now'} an administrator.")


@user.command("set-active")
@click.argument("username")
@click.option("--off", is_flag=True, help="Disable the account instead of enabling it.")
@friendly_errors
def user_set_active(username: str, off: bool) -> None:
    """Enable an account (or, with --off, disable it: refused from the very next request, browsers signed out)."""
    with open_runtime().db.write() as session:
        accounts.set_active(session, accounts.get_user(session, username), not off, actor=actor())
    if off:
        click.echo(f"{username} is disabled: their password, tokens and browser sessions no longer work.")
    else:
        click.echo(f"{username} is enabled: they can sign in again.")
