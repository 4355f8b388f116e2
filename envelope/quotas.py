"""What an organization uses, and the limits an administrator sets on it.

Usage is read from what is already kept: file sizes (stored bytes and
files), download_counts (downloaded bytes, summed per month off the request
path by envelope.usage) and request_counts (index pages, the same way). The
checks that run per request (a download against the monthly bandwidth) read
figures cached in this process for CACHE_SECONDS, so a download costs a dict
lookup, never a SUM; an upload, rare and slow anyway, sums afresh.

Months are calendar months in UTC: the download limit resets at 00:00 UTC
on the first of the next month.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.errors import EnvelopeError, InvalidInput
from envelope.models import (
    DownloadCount, File, Membership, OrgQuota, Organization, Plan, Project, RequestCount, UpstreamObject,
)
from envelope.models.base import utcnow
from envelope.sizes import exact_size, format_bytes, parse_limit, parse_size  # noqa: F401  (callers use quotas.*)

CACHE_SECONDS = 30.0
WARN_AT = 0.8  # a warning from 80 % of a limit


class StorageQuotaExceeded(EnvelopeError):
    """twine prints the status line: it names the limit and the usage."""

    status = 413


class BandwidthQuotaExceeded(EnvelopeError):
    """The reset time goes in the message and in `RateLimit-Reset` (seconds), not in
    Retry-After: pip's and uv's HTTP stacks (urllib3, reqwest-retry) sleep for a
    Retry-After on a 429 and retry, which here would hang an install for weeks."""

    status = 429

    def __init__(self, message: str, reset_after: int) -> None:
        super().__init__(message)
        self.reset_after = reset_after  # seconds until the month resets


class MemberQuotaExceeded(EnvelopeError):
    status = 409


@dataclass(frozen=True)
class Limits:
    storage_bytes: int | None = None
    download_bytes: int | None = None  # per month
    members: int | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.storage_bytes, self.download_bytes, self.members))


@dataclass(frozen=True)
class Usage:
    stored_bytes: int
    files: int
    downloaded_bytes: int  # this month
    downloads: int  # this month
    requests: int  # index pages this month
    members: int
    month: str  # "2026-12"
    upstream_bytes: int = 0  # the upstream proxy's cache (upstream_cached): not counted in stored_bytes
    upstream_files: int = 0


# --- months ------------------------------------------------------------------------------------


def month_of(now: datetime) -> str:
    return f"{now.year:04d}-{now.month:02d}"


def month_start(now: datetime) -> date:
    return date(now.year, now.month, 1)


def next_month(now: datetime) -> datetime:
    """00:00 UTC on the first of the next month: when the download limit resets."""
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


# --- limits ------------------------------------------------------------------------------------


def get_limits(session: Session, organization_id: int) -> Limits:
    """The organization's plan's limits when it is on one, else its own."""
    row = session.get(OrgQuota, organization_id)
    if row is None:
        return Limits()
    source = session.get(Plan, row.plan_id) if row.plan_id is not None else row
    return Limits(source.storage_bytes, source.download_bytes, source.members)


def set_limits(session: Session, org: Organization, limits: Limits, *, actor: str) -> Limits:
    """Replace the organization's limits (None: no limit of that kind), taking it off
    any plan: its own limits from now on; audited."""
    for value in (limits.storage_bytes, limits.download_bytes, limits.members):
        if value is not None and value < 0:
            raise InvalidInput("A limit cannot be negative; leave it out for no limit.")
    row = session.get(OrgQuota, org.id)
    if row is None:
        row = OrgQuota(organization_id=org.id, warned={})
        session.add(row)
    row.storage_bytes, row.download_bytes, row.members = limits.storage_bytes, limits.download_bytes, limits.members
    row.plan_id = None
    session.flush()
    record_event(session, org.id, actor, AuditAction.org_quota, org.name, **{
        "storage": _limit_text(limits.storage_bytes, format_bytes),
        "downloads": _limit_text(limits.download_bytes, format_bytes),
        "members": _limit_text(limits.members, str),
    })
    forget(org.id)
    return limits


def all_limits(session: Session) -> list[tuple[str, Limits, str | None]]:
    """Every organization by name, with its limits (none: Limits()) and its plan's name, for the admin page."""
    rows = session.execute(
        select(Organization.id, Organization.name, Plan.name)
        .outerjoin(OrgQuota, OrgQuota.organization_id == Organization.id)
        .outerjoin(Plan, Plan.id == OrgQuota.plan_id)
        .order_by(Organization.name)
    ).all()
    return [(name, get_limits(session, org_id), plan) for org_id, name, plan in rows]


def _limit_text(value: int | None, fmt) -> str:
    return "none" if value is None else fmt(value)


# --- usage -------------------------------------------------------------------------------------


def stored(session: Session, organization_id: int) -> tuple[int, int]:
    """(bytes, files) of the organization's own files (one indexed SUM over projects' files)."""
    total, count = session.execute(
        select(func.coalesce(func.sum(File.size), 0), func.count(File.id))
        .join(Project, Project.id == File.project_id)
        .where(Project.organization_id == organization_id)
    ).one()
    return int(total), int(count)


def upstream_cached(session: Session, organization_id: int) -> tuple[int, int]:
    """(bytes, files) of the organization's upstream cache: files the upstream
    proxy fetched and keeps. Shown beside, not counted against, the storage
    limit: the cache has its own budget (envelope.lifecycle.upstream_cache),
    and a blob several organizations fetched is counted by each."""
    total, count = session.execute(
        select(func.coalesce(func.sum(UpstreamObject.size), 0), func.count(UpstreamObject.id))
        .where(UpstreamObject.organization_id == organization_id)
    ).one()
    return int(total), int(count)


def downloaded(session: Session, organization_id: int, now: datetime) -> tuple[int, int]:
    """(bytes, downloads) of the organization's files this month, as flushed so far."""
    total, count = session.execute(
        select(func.coalesce(func.sum(DownloadCount.bytes), 0), func.coalesce(func.sum(DownloadCount.downloads), 0))
        .join(File, File.id == DownloadCount.file_id)
        .join(Project, Project.id == File.project_id)
        .where(Project.organization_id == organization_id, DownloadCount.day >= month_start(now))
    ).one()
    return int(total), int(count)


def member_count(session: Session, organization_id: int) -> int:
    return int(session.scalar(
        select(func.count()).select_from(Membership).where(Membership.organization_id == organization_id)
    ))


def org_usage(session: Session, organization_id: int, now: datetime | None = None) -> Usage:
    now = now or utcnow()
    stored_bytes, files = stored(session, organization_id)
    downloaded_bytes, downloads = downloaded(session, organization_id, now)
    requests = session.scalar(select(RequestCount.requests).where(
        RequestCount.organization_id == organization_id, RequestCount.month == month_of(now))) or 0
    upstream_bytes, upstream_files = upstream_cached(session, organization_id)
    return Usage(stored_bytes, files, downloaded_bytes, downloads, int(requests),
                 member_count(session, organization_id), month_of(now), upstream_bytes, upstream_files)


@dataclass(frozen=True)
class QuotaWarning:
    kind: str  # storage, downloads, members
    sentence: str


def warnings(limits: Limits, usage: Usage) -> list[QuotaWarning]:
    """A sentence per limit used to 80 % or more, for the organization's pages and the owners' email."""
    found = []
    for kind, used, limit, fmt, what in (
        ("storage", usage.stored_bytes, limits.storage_bytes, format_bytes, "storage"),
        ("downloads", usage.downloaded_bytes, limits.download_bytes, format_bytes, f"downloads in {usage.month}"),
        ("members", usage.members, limits.members, str, "members"),
    ):
        if limit is not None and used >= WARN_AT * limit:
            share = 100 if limit == 0 else round(100 * used / limit)
            found.append(QuotaWarning(kind, f"{what.capitalize()}: {fmt(used)} of the {fmt(limit)} limit ({share} %)."))
    return found


# --- checks ------------------------------------------------------------------------------------


def check_storage(session: Session, organization_id: int, incoming: int) -> None:
    """Refuse a new file that would take the organization past its storage limit (summed afresh)."""
    limit = get_limits(session, organization_id).storage_bytes
    if limit is None:
        return
    used, _ = stored(session, organization_id)
    if used + incoming > limit:
        raise StorageQuotaExceeded(
            f"Storage quota exceeded: this organization may store {format_bytes(limit)} and uses "
            f"{format_bytes(used)}; this file needs {format_bytes(incoming)} more. "
            "Delete old files or ask an administrator for a higher limit."
        )


def check_members(session: Session, organization_id: int) -> None:
    """Refuse a new member past the organization's member limit."""
    limit = get_limits(session, organization_id).members
    if limit is None:
        return
    count = member_count(session, organization_id)
    if count + 1 > limit:
        raise MemberQuotaExceeded(
            f"This organization already has {count} members, its limit is {limit}: remove a member "
            "or ask an administrator for a higher limit."
        )


@dataclass(frozen=True)
class _Cached:
    expires: float
    limit: int | None
    used: int
    month: str


_cache: dict[tuple[int, int], _Cached] = {}
_cache_lock = threading.Lock()


def forget_all() -> None:
    """Drop every cached figure of this process (after a plan's limits change)."""
    with _cache_lock:
        _cache.clear()


def forget(organization_id: int) -> None:
    """Drop this process's cached figures for the organization (after its limits change)."""
    with _cache_lock:
        for key in [k for k in _cache if k[1] == organization_id]:
            del _cache[key]


def check_download(db, organization_id: int, now: datetime | None = None) -> None:
    """Refuse a download once the month's downloaded bytes reached the limit.

    Reads this process's cached figures (refreshed every CACHE_SECONDS, and
    at a new month): the limit can be overshot by what all processes serve
    in that time, which is the price of never summing on a download."""
    now = now or utcnow()
    key = (id(db), organization_id)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None or cached.expires < time.monotonic() or cached.month != month_of(now):
        with db.read() as session:
            limit = get_limits(session, organization_id).download_bytes
            used = downloaded(session, organization_id, now)[0] if limit is not None else 0
        cached = _Cached(time.monotonic() + CACHE_SECONDS, limit, used, month_of(now))
        with _cache_lock:
            _cache[key] = cached
    if cached.limit is not None and cached.used >= cached.limit:
        reset = next_month(now)
        raise BandwidthQuotaExceeded(
            f"Download quota exceeded: this organization may download {format_bytes(cached.limit)} a month "
            f"and used {format_bytes(cached.used)}; it resets at {reset:%Y-%m-%d %H:%M} UTC.",
            reset_after=max(1, int((reset - now).total_seconds())),
        )


# --- shown ---------------------------------------------------------------------------------------


def limits_json(limits: Limits) -> dict:
    return {"storage_bytes": limits.storage_bytes, "download_bytes_per_month": limits.download_bytes,
            "members": limits.members}


def usage_json(usage: Usage) -> dict:
    return {"month": usage.month, "stored_bytes": usage.stored_bytes, "files": usage.files,
            "downloaded_bytes": usage.downloaded_bytes, "downloads": usage.downloads,
            "index_requests": usage.requests, "members": usage.members,
            "upstream_cache_bytes": usage.upstream_bytes, "upstream_cache_files": usage.upstream_files}


def describe_limits(limits: Limits) -> str:
    """'storage 10 GB, downloads 100 GB a month, members 20' ('no limit' for each left out)."""
    return ", ".join([
        f"storage {format_bytes(limits.storage_bytes) if limits.storage_bytes is not None else 'no limit'}",
        f"downloads {format_bytes(limits.download_bytes) + ' a month' if limits.download_bytes is not None else 'no limit'}",
        f"members {limits.members if limits.members is not None else 'no limit'}",
    ])


def describe(limits: Limits, usage: Usage) -> list[str]:
    """Lines for the CLI: each figure with its limit."""
    def of(used: str, limit: int | None, fmt) -> str:
        return used + (f" of {fmt(limit)}" if limit is not None else " (no limit)")

    return [
        f"Storage: {of(format_bytes(usage.stored_bytes), limits.storage_bytes, format_bytes)}, in {usage.files} files.",
        f"Downloads in {usage.month}: {of(format_bytes(usage.downloaded_bytes), limits.download_bytes, format_bytes)}"
        f" ({usage.downloads} downloads, {usage.requests} index requests).",
        f"Members: {of(str(usage.members), limits.members, str)}.",
        f"Upstream cache: {format_bytes(usage.upstream_bytes)} in {usage.upstream_files} files "
        "(not counted in storage; `envelope org proxy` sets its budget).",
    ]


@dataclass(frozen=True)
class Row:
    """One line of the usage page: a figure, its limit and how full it is."""

    label: str
    used: str
    limit: str | None
    percent: int | None  # of the limit, capped at 100 for the bar


def rows(limits: Limits, usage: Usage) -> list[Row]:
    def row(label: str, used: int, limit: int | None, fmt) -> Row:
        if limit is None:
            return Row(label, fmt(used), None, None)
        return Row(label, fmt(used), fmt(limit), 100 if limit == 0 else min(100, round(100 * used / limit)))

    return [
        row("Storage", usage.stored_bytes, limits.storage_bytes, format_bytes),
        row(f"Downloaded in {usage.month}", usage.downloaded_bytes, limits.download_bytes, format_bytes),
        row("Members", usage.members, limits.members, str),
    ]


def warnings_for(session: Session, organization_id: int) -> list[QuotaWarning]:
    """The 80 % warnings for an organization's pages; no figures summed when it has no limits."""
    limits = get_limits(session, organization_id)
    return warnings(limits, org_usage(session, organization_id)) if limits.any else []
