"""Retention policies: which releases an organization or project lets go.

A policy keeps the newest N development and pre-releases and lets releases
older than an age go. Whatever it says, the latest final release stays (or,
in a project with no final release, the newest release: retention never
empties a project), and so does a release downloaded in the last 30 days
unless the policy includes downloaded ones. A project's policy replaces its
organization's. Every deletion goes through delete_files: audited, filenames
burned, blobs left to the collector."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.db import Database
from envelope.errors import InvalidInput
from envelope.models import File, Organization, Project, Release, RetentionPolicy
from envelope.models.base import utcnow
from envelope.orgs.capabilities import Capability
from envelope.orgs.membership import OrgAccess
from envelope.packaging.releases import delete_files, find_project
from envelope.usage import WINDOW, release_downloads

ACTOR = "retention policy"  # who the audit log names for the policy's deletions
MAX_KEEP = 10_000
MAX_AGE_DAYS = 100 * 365


@dataclass(frozen=True)
class Decision:
    """One release a policy's rule matched: whether it goes, and why."""

    project: str
    version: str
    delete: bool
    reason: str
    files: int


def parse_age(text: str) -> int:
    """'180d', '26w', '180' (days) -> days; InvalidInput otherwise."""
    value = text.strip().lower()
    factor = 7 if value.endswith("w") else 1
    digits = value.rstrip("dw") if value[-1:] in ("d", "w") else value
    if not digits.isdigit() or not 1 <= int(digits) * factor <= MAX_AGE_DAYS:
        raise InvalidInput(f"An age is a number of days like 180d or weeks like 26w (1 day to {MAX_AGE_DAYS} days), not {text!r}.")
    return int(digits) * factor


def set_policy(session: Session, access: OrgAccess, *, project: str | None, keep_prereleases: int | None,
               max_age_days: int | None, include_downloaded: bool) -> RetentionPolicy:
    """Create or replace the organization's (project None) or a project's
    policy; owners and the operator only, since it deletes."""
    access.require(Capability.DELETE, "set retention policies")
    if keep_prereleases is None and max_age_days is None:
        raise InvalidInput("A retention policy needs a number of pre-releases to keep, a maximum age, or both.")
    if keep_prereleases is not None and not 0 <= keep_prereleases <= MAX_KEEP:
        raise InvalidInput(f"The number of pre-releases to keep is between 0 and {MAX_KEEP}.")
    if max_age_days is not None and not 1 <= max_age_days <= MAX_AGE_DAYS:
        raise InvalidInput(f"The maximum age is between 1 and {MAX_AGE_DAYS} days.")
    organization = access.organization
    project_id = find_project(session, organization, project).id if project else None
    policy = _policy_row(session, organization.id, project_id)
    if policy is None:
        policy = RetentionPolicy(organization_id=organization.id, project_id=project_id)
        session.add(policy)
    policy.keep_prereleases = keep_prereleases
    policy.max_age_days = max_age_days
    policy.include_downloaded = include_downloaded
    session.flush()
    record_event(session, organization.id, access.actor, AuditAction.retention_set, project or organization.name,
                 keep_prereleases=keep_prereleases, max_age_days=max_age_days, include_downloaded=include_downloaded)
    return policy


def clear_policy(session: Session, access: OrgAccess, *, project: str | None) -> bool:
    """Remove a policy; True if there was one."""
    access.require(Capability.DELETE, "change retention policies")
    organization = access.organization
    project_id = find_project(session, organization, project).id if project else None
    policy = _policy_row(session, organization.id, project_id)
    if policy is None:
        return False
    session.delete(policy)
    record_event(session, organization.id, access.actor, AuditAction.retention_clear, project or organization.name)
    return True


def policies(session: Session, organization: Organization) -> list[tuple[str | None, RetentionPolicy]]:
    """(project name or None for the organization's, policy), organization's first."""
    rows = session.execute(
        select(Project.name, RetentionPolicy)
        .outerjoin(Project, Project.id == RetentionPolicy.project_id)
        .where(RetentionPolicy.organization_id == organization.id)
        .order_by(RetentionPolicy.project_id.is_not(None), Project.normalized_name)
    )
    return [(name, policy) for name, policy in rows]


def plan(session: Session, organization: Organization, *, now: datetime | None = None) -> list[Decision]:
    """What the policies would do now: every release a rule matched."""
    now = now or utcnow()
    found = dict((name, policy) for name, policy in policies(session, organization))
    default = found.get(None)
    decisions: list[Decision] = []
    for project in session.scalars(select(Project).where(Project.organization_id == organization.id)
                                   .order_by(Project.normalized_name)):
        policy = found.get(project.name, default)
        if policy is not None:
            decisions.extend(_plan_project(session, project, policy, now))
    return decisions


def run(db: Database, organization_id: int, *, dry_run: bool, now: datetime | None = None) -> list[Decision]:
    """Plan and, unless a dry run, delete what the plan says, in one transaction."""
    with db.write() as session:
        organization = session.get(Organization, organization_id)
        if organization is None:
            return []
        decisions = plan(session, organization, now=now)
        if not dry_run:
            for decision in decisions:
                if decision.delete:
                    delete_files(session, organization, decision.project, decision.version, actor=ACTOR)
    return decisions


def run_all(db: Database, *, now: datetime | None = None) -> int:
    """Beat's run: every organization with a policy; how many releases went."""
    with db.read() as session:
        organization_ids = list(session.scalars(select(RetentionPolicy.organization_id).distinct()))
    return sum(d.delete for org_id in organization_ids for d in run(db, org_id, dry_run=False, now=now))


def _policy_row(session: Session, organization_id: int, project_id: int | None) -> RetentionPolicy | None:
    return session.scalar(select(RetentionPolicy).where(
        RetentionPolicy.organization_id == organization_id,
        RetentionPolicy.project_id.is_(None) if project_id is None else RetentionPolicy.project_id == project_id,
    ))


def _plan_project(session: Session, project: Project, policy: RetentionPolicy, now: datetime) -> list[Decision]:
    rows = list(session.execute(
        select(Release, File.id).join(File, File.release_id == Release.id).where(Release.project_id == project.id)
    ))
    files: dict[int, int] = {}
    releases: dict[int, tuple[Release, Version]] = {}
    for release, _ in rows:
        files[release.id] = files.get(release.id, 0) + 1
        try:
            releases[release.id] = (release, Version(release.version))
        except InvalidVersion:
            continue  # never published through publish_file; left alone
    ordered = sorted(releases.values(), key=lambda pair: pair[1], reverse=True)
    finals = [release for release, version in ordered if not version.is_prerelease]
    protected = (finals or [pair[0] for pair in ordered])[:1]
    pre = [release for release, version in ordered if version.is_prerelease]
    reasons: dict[int, str] = {}
    if policy.keep_prereleases is not None:
        for release in pre[policy.keep_prereleases:]:
            reasons[release.id] = f"pre-release beyond the newest {policy.keep_prereleases}"
    if policy.max_age_days is not None:
        cutoff = now - timedelta(days=policy.max_age_days)
        for release, _ in ordered:
            if release.created < cutoff and release.id not in reasons:
                reasons[release.id] = f"older than {policy.max_age_days} days"
    recent = {} if policy.include_downloaded else release_downloads(
        session, list(reasons), start=(now - WINDOW).date())
    decisions = []
    for release, _ in ordered:
        if release.id not in reasons:
            continue
        reason, delete = reasons[release.id], True
        if release in protected:
            reason, delete = f"{reason}, but kept: the latest {'final ' if finals else ''}release", False
        elif recent.get(release.id):
            reason, delete = f"{reason}, but kept: downloaded {recent[release.id]} times in the last 30 days", False
        decisions.append(Decision(project.name, release.version, delete, reason, files[release.id]))
    return decisions
