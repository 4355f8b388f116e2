"""The upstream cache budget: what the upstream proxy keeps of the files it
fetched, per organization.

The proxy stores every upstream file it serves (envelope.upstream.files);
without a budget it keeps them forever. An owner may cap the cache at a
total size, an age since last use, or both. Each collector run (beat's
lifecycle task, `envelope collect`) evicts, per organization, the files
unused for longer than the age, then the least recently used until the rest
fits the size.

Evicting deletes the organization's UpstreamObject rows and marks their
storage keys as BlobCandidates in the same transaction; the blobs go
through the collector's own protocol (envelope.lifecycle.collector): after
its grace period, and only if no file and no organization's UpstreamObject
refers to the key by then. Keys are content-addressed and shared by every
organization that fetched the same verified bytes, so another organization's
copy keeps the blob; a fetch of the same file racing the eviction claims
the key in the transaction that records its row and stores the bytes again
if the collector removed them (envelope.upstream.files._stored_object). A
request that found the row just before it was deleted still finds the blob:
nothing is removed within the grace period. An evicted file is fetched
again from the upstream on its next request.

Last use is recorded off the request path, at most once per USE_RESOLUTION
per object (envelope.usage.record_upstream_use), so the age budget is exact
to within that.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.db import Database
from envelope.errors import InvalidInput
from envelope.lifecycle.collector import mark_unreferenced
from envelope.models import Organization, UpstreamObject
from envelope.models.base import utcnow
from envelope.quotas import exact_size, format_bytes, parse_limit
from envelope.upstream.hold import UNITS, format_min_age

log = logging.getLogger(__name__)

USE_RESOLUTION = timedelta(hours=1)  # last_used is written at most this often per object
MIN_AGE_BUDGET = 3600  # seconds: below USE_RESOLUTION an object in use could look unused
MAX_AGE_BUDGET = 10 * 366 * 86400
SYSTEM_ACTOR = "system"
_AGE = re.compile(r"(\d{1,7})\s*([smhdw]?)")


@dataclass(frozen=True)
class Budget:
    """An organization's cache budget; None: no limit of that kind."""

    max_bytes: int | None = None
    max_age: int | None = None  # seconds since last use

    @property
    def any(self) -> bool:
        return self.max_bytes is not None or self.max_age is not None

    def describe(self) -> str:
        """'at most 5 GB, each used within 90d' / 'none: kept forever'."""
        parts = []
        if self.max_bytes is not None:
            parts.append(f"at most {format_bytes(self.max_bytes)}")
        if self.max_age is not None:
            parts.append(f"each used within {format_min_age(self.max_age)}")
        return ", ".join(parts) if parts else "none, kept forever"


def budget_of(organization: Organization) -> Budget:
    return Budget(organization.upstream_cache_max_bytes, organization.upstream_cache_max_age)


# --- parsing -------------------------------------------------------------------------------


def parse_max_size(text: str) -> int | None:
    """'5GB' -> 5 * 10**9; blank or 'none' -> None (no limit). The quota's size syntax."""
    return parse_limit(text)


def parse_max_age(text: str) -> int | None:
    """'90d' -> seconds; blank or 'none' -> None. Units s, m, h, d, w as for the
    minimum age (a bare number is days); at least an hour, since last use is
    only recorded to the hour."""
    value = (text or "").strip().lower()
    if value in ("", "none"):
        return None
    match = _AGE.fullmatch(value)
    if match is None:
        raise InvalidInput(f"Invalid cache age {text!r}: give a number with a unit, for example 90d, 12w or "
                           "36h ('none' keeps files however long ago they were used).")
    seconds = int(match.group(1)) * UNITS[match.group(2) or "d"]
    if not MIN_AGE_BUDGET <= seconds <= MAX_AGE_BUDGET:
        raise InvalidInput(f"Cache age {text!r} must be between 1h and 10 years.")
    return seconds


def format_max_size(value: int | None) -> str:
    """For a form to resubmit unchanged: '5GB', or '' for no limit."""
    return "" if value is None else exact_size(value)


def format_max_age(value: int | None) -> str:
    return "" if value is None else format_min_age(value)


def check(budget: Budget) -> None:
    if budget.max_bytes is not None and budget.max_bytes < 0:
        raise InvalidInput("The cache size cannot be negative; 'none' keeps every file.")
    if budget.max_age is not None and not MIN_AGE_BUDGET <= budget.max_age <= MAX_AGE_BUDGET:
        raise InvalidInput("The cache age must be between 1h and 10 years.")


# --- choosing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cached:
    """One cached upstream file, as eviction sees it."""

    id: int
    storage_key: str
    filename: str
    size: int
    last_used: datetime


@dataclass(frozen=True)
class Eviction:
    obj: Cached
    reason: str  # "unused for 95d", "over the size budget"


def choose(objects: list[Cached], budget: Budget, now: datetime) -> list[Eviction]:
    """What goes, oldest use first: every object unused for longer than
    max_age, then the least recently used of the rest until they fit
    max_bytes. Ties (one hour's uses) go by id, the order they were cached."""
    ordered = sorted(objects, key=lambda o: (o.last_used, o.id))
    evicted: list[Eviction] = []
    kept: list[Cached] = []
    cutoff = now - timedelta(seconds=budget.max_age) if budget.max_age is not None else None
    for obj in ordered:
        if cutoff is not None and obj.last_used < cutoff:
            evicted.append(Eviction(obj, f"unused for more than {format_min_age(budget.max_age)}"))
        else:
            kept.append(obj)
    if budget.max_bytes is not None:
        total = sum(o.size for o in kept)
        for obj in kept:
            if total <= budget.max_bytes:
                break
            evicted.append(Eviction(obj, f"over the {format_bytes(budget.max_bytes)} budget"))
            total -= obj.size
    return evicted


# --- evicting --------------------------------------------------------------------------------


@dataclass
class OrgEvictions:
    organization: str
    budget: Budget
    evicted: list[Eviction] = field(default_factory=list)
    kept_files: int = 0
    kept_bytes: int = 0

    @property
    def freed(self) -> int:
        return sum(e.obj.size for e in self.evicted)


def evict_all(db: Database, *, now: datetime | None = None, dry_run: bool = False) -> list[OrgEvictions]:
    """Apply every organization's budget (those without one are skipped);
    with dry_run only say what would go."""
    with db.read() as session:
        budgets = [(o.id, o.name, budget_of(o)) for o in session.scalars(
            select(Organization).where(or_(Organization.upstream_cache_max_bytes.is_not(None),
                                           Organization.upstream_cache_max_age.is_not(None)))
            .order_by(Organization.name))]
    return [evict(db, org_id, name, budget, now=now, dry_run=dry_run) for org_id, name, budget in budgets]


def evict(db: Database, organization_id: int, name: str, budget: Budget, *, now: datetime | None = None,
          dry_run: bool = False) -> OrgEvictions:
    """One organization's evictions: its rows deleted and their keys marked
    for the collector in one transaction, audited with counts and bytes."""
    now = now or utcnow()
    with db.read() as session:
        objects = [Cached(*row) for row in session.execute(
            select(UpstreamObject.id, UpstreamObject.storage_key, UpstreamObject.filename,
                   UpstreamObject.size, UpstreamObject.last_used)
            .where(UpstreamObject.organization_id == organization_id)
        )]
    result = OrgEvictions(name, budget, choose(objects, budget, now))
    gone = {e.obj.id for e in result.evicted}
    result.kept_files = len(objects) - len(gone)
    result.kept_bytes = sum(o.size for o in objects if o.id not in gone)
    if result.evicted and not dry_run:
        with db.write() as session:
            _delete(session, organization_id, result)
        log.info("Evicted %d cached upstream files (%d bytes) of organization %s; %d files (%d bytes) stay.",
                 len(result.evicted), result.freed, name, result.kept_files, result.kept_bytes)
    return result


def _delete(session: Session, organization_id: int, result: OrgEvictions) -> None:
    ids = [e.obj.id for e in result.evicted]
    for start in range(0, len(ids), 500):
        session.execute(delete(UpstreamObject).where(UpstreamObject.organization_id == organization_id,
                                                     UpstreamObject.id.in_(ids[start:start + 500])))
    mark_unreferenced(session, [e.obj.storage_key for e in result.evicted])
    record_event(session, organization_id, SYSTEM_ACTOR, AuditAction.proxy_cache_evict,
                 f"{len(result.evicted)} files", bytes=result.freed, files=len(result.evicted),
                 budget=result.budget.describe())

