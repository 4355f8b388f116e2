"""`envelope retention …` and `envelope collect`: the storage lifecycle by
hand (beat runs both on its own; docs/lifecycle.md)."""
from __future__ import annotations

import click

from cli.common import actor, friendly_errors, open_runtime
from envelope.orgs import organizations


@click.group()
def retention() -> None:
    """Retention policies: which pre-releases and old releases go."""


@retention.command("set")
@click.option("--org", "org_name", required=True, help="The organization.")
@click.option("--project", help="Only this project (its policy replaces the organization's).")
@click.option("--keep-prereleases", type=int, help="How many of the newest development and pre-releases to keep.")
@click.option("--max-age", help="Releases older than this go, e.g. 180d or 26w (never the latest final one).")
@click.option("--include-downloaded", is_flag=True,
              help="Let releases downloaded in the last 30 days go too (by default they stay).")
@friendly_errors
def retention_set(org_name: str, project: str | None, keep_prereleases: int | None, max_age: str | None,
                  include_downloaded: bool) -> None:
    """Set an organization's or a project's retention policy."""
    from envelope.lifecycle.retention import parse_age, set_policy
    from envelope.orgs.membership import operator_access

    days = parse_age(max_age) if max_age is not None else None
    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, org_name)
        set_policy(session, operator_access(organization, actor()), project=project,
                   keep_prereleases=keep_prereleases, max_age_days=days, include_downloaded=include_downloaded)
    click.echo(f"Retention policy set for {project or org_name}; see what it would delete with "
               f"`envelope retention run --org {org_name} --dry-run`.")


@retention.command("clear")
@click.option("--org", "org_name", required=True, help="The organization.")
@click.option("--project", help="Only this project's policy (the organization's applies again).")
@friendly_errors
def retention_clear(org_name: str, project: str | None) -> None:
    """Remove an organization's or a project's retention policy."""
    from envelope.lifecycle.retention import clear_policy
    from envelope.orgs.membership import operator_access

    with open_runtime().db.write() as session:
        organization = organizations.get_organization(session, org_name)
        removed = clear_policy(session, operator_access(organization, actor()), project=project)
    click.echo(f"Retention policy removed for {project or org_name}." if removed
               else f"{project or org_name} had no retention policy of its own.")


@retention.command("show")
@click.option("--org", "org_name", required=True, help="The organization.")
@friendly_errors
def retention_show(org_name: str) -> None:
    """The organization's policy and every project's own."""
    from envelope.lifecycle.retention import policies

    with open_runtime().db.read() as session:
        found = policies(session, organizations.get_organization(session, org_name))
    if not found:
        click.echo(f"{org_name} has no retention policy: every release is kept.")
    for project, policy in found:
        keep = "all" if policy.keep_prereleases is None else str(policy.keep_prereleases)
        age = "no limit" if policy.max_age_days is None else f"{policy.max_age_days}d"
        downloaded = "may go" if policy.include_downloaded else "kept"
        click.echo(f"{project or org_name + ' (organization)'}: keep pre-releases {keep}, max age {age}, "
                   f"downloaded in 30 days {downloaded}")


@retention.command("run")
@click.option("--org", "org_name", required=True, help="The organization.")
@click.option("--dry-run", is_flag=True, help="Only list what would go and why.")
@friendly_errors
def retention_run(org_name: str, dry_run: bool) -> None:
    """Apply the organization's policies now (beat does this on its own)."""
    from envelope.lifecycle.retention import run

    db = open_runtime().db
    with db.read() as session:
        organization = organizations.get_organization(session, org_name)
    decisions = run(db, organization.id, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for d in decisions:
        click.echo(f"{verb if d.delete else 'keep'} {d.project} {d.version} ({d.files} files): {d.reason}")
    gone = sum(d.delete for d in decisions)
    click.echo(f"{verb.capitalize()} {gone} release{'s' * (gone != 1)}." if gone else "Nothing to delete.")


@click.command("collect")
@click.option("--dry-run", is_flag=True,
              help="Only list the cached upstream files the budgets would evict; nothing is removed.")
@friendly_errors
def collect(dry_run: bool) -> None:
    """Evict cached upstream files past their organization's budget, then remove stored
    blobs nothing refers to any more (beat does both on its own)."""
    from envelope.lifecycle import upstream_cache
    from envelope.lifecycle.collector import GRACE, collect as run_collector
    from envelope.quotas import format_bytes

    rt = open_runtime()
    verb = "would evict" if dry_run else "evicted"
    evictions = upstream_cache.evict_all(rt.db, dry_run=dry_run)
    for org in evictions:
        for e in org.evicted:
            click.echo(f"{org.organization}: {verb} {e.obj.filename} ({format_bytes(e.obj.size)}): {e.reason}")
        if not org.evicted and not dry_run:
            continue
        click.echo(f"{org.organization}: {verb} {len(org.evicted)} cached upstream files "
                   f"({format_bytes(org.freed)}); {org.kept_files} files ({format_bytes(org.kept_bytes)}) stay, "
                   f"budget {org.budget.describe()}.")
    if dry_run:
        return
    result = run_collector(rt.db, rt.storage)
    click.echo(f"Removed {len(result.removed)} unreferenced blobs; {len(result.kept)} were in use again.")
    if any(org.evicted for org in evictions):
        click.echo(f"The evicted files' blobs are removed by the first run {GRACE.seconds // 60} minutes from now "
                   "(no request can still be serving them then), unless another organization keeps them.")
