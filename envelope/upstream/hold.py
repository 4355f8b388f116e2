"""A proxy that waits: an organization's minimum age for upstream files.

Malicious releases of public packages are usually found and removed within
hours or days; a team that installs nothing younger than, say, three days
is past most of them. With a minimum age set, a file the upstream published
less than that long ago (its PEP 700 ``upload-time``) is left off the
proxied pages and its download answers 404, exactly as if the upstream did
not have it yet; the next older version installs instead.

A file whose upstream gives no upload-time is offered: its age cannot be
known, and holding it forever would cut off every upstream (plain HTML
mirrors) that does not send upload times. PyPI sends them for every file.

The hold is per file, judged against the time of the request: a version
whose wheel was added yesterday to a sdist of last year offers only the
sdist until the wheel is old enough. Pages are cached by their serial, and
the serial carries how many upload times are past the cut (`released`), so
a cached page stops serving the moment a held file comes of age, whether or
not the upstream page changed.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.errors import InvalidInput
from envelope.models import UpstreamPage

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_MIN_AGE = 90 * 86400  # seconds: longer is a typo, not a policy
_AGE = re.compile(r"(\d{1,7})\s*([smhdw]?)")


def parse_min_age(text: str) -> int:
    """'3d' -> 259200 seconds; '0' or blank -> 0 (off). Units s, m, h, d, w; a bare number is days."""
    value = (text or "").strip().lower()
    if value in ("", "0", "off"):
        return 0
    match = _AGE.fullmatch(value)
    if match is None:
        raise InvalidInput(
            f"Invalid minimum age {text!r}: give a number with a unit, for example 3d, 12h or 30m (0 turns it off)."
        )
    seconds = int(match.group(1)) * UNITS[match.group(2) or "d"]
    if seconds > MAX_MIN_AGE:
        raise InvalidInput(f"Minimum age {text!r} is longer than 90 days: give at most 90d.")
    return seconds


def format_min_age(seconds: int) -> str:
    """259200 -> '3d', 0 -> '0': the largest unit that says it exactly, as parse_min_age reads it."""
    if seconds <= 0:
        return "0"
    for unit in ("w", "d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"


def upload_epoch(entry: dict[str, Any]) -> int | None:
    """A stored file entry's upload-time as whole epoch seconds, or None when the upstream gave none."""
    text = entry.get("upload_time")
    if not text:
        return None
    # Stored as envelope.index.pages.UPLOAD_TIME_FORMAT: ISO 8601, UTC, with a Z.
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def upload_times(files: Iterable[dict[str, Any]]) -> list[int]:
    """The distinct upload times of a page's files, sorted: what `released` counts."""
    return sorted({t for t in map(upload_epoch, files) if t is not None})


def cut(min_age: int, now: datetime) -> int | None:
    """Files uploaded after this epoch second are held back; None when nothing is."""
    return int(now.timestamp()) - min_age if min_age > 0 else None


def released(times: list[int], cut_at: int | None) -> int:
    """How many of a page's upload times are old enough: with the page's digest,
    it names exactly which files are offered, so it goes into the serial."""
    return len(times) if cut_at is None else bisect.bisect_right(times, cut_at)


def is_held(entry: dict[str, Any], cut_at: int | None) -> bool:
    uploaded = upload_epoch(entry)
    return cut_at is not None and uploaded is not None and uploaded > cut_at


def held_versions(files: Iterable[dict[str, Any]], min_age: int, now: datetime) -> dict[str, str]:
    """Version -> when all its held files are offered (ISO 8601), for the versions held back now."""
    cut_at = cut(min_age, now)
    until: dict[str, int] = {}
    for entry in files:
        if is_held(entry, cut_at):
            ready = (upload_epoch(entry) or 0) + min_age
            until[entry["version"]] = max(until.get(entry["version"], 0), ready)
    return {version: datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for version, moment in sorted(until.items())}


def held_now(session: Session, organization_id: int, now: datetime, limit: int = 50) -> list[tuple[str, str, str]]:
    """(project, version, offered from) held back now, as of each page's last
    fetch, soonest first: for the proxy settings page."""
    rows = session.execute(
        select(UpstreamPage.normalized_name, UpstreamPage.held)
        .where(UpstreamPage.organization_id == organization_id, UpstreamPage.held.is_not(None))
    ).all()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    held = [(until, name, version) for name, versions in rows for version, until in (versions or {}).items()
            if until > stamp]
    return [(name, version, until) for until, name, version in sorted(held)[:limit]]
