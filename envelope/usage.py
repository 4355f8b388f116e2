"""Who downloads what: counted per file, day and credential, off the request path;
and index page requests per organization and month, the same way; and when
a cached upstream file was last used (for the cache budget), the same way.

A download adds one to a counter in this process's memory; a daemon thread
writes the counters every few seconds as one upsert per row (and once more
when the process exits), so a download costs a dict update, never a
database write. What a killed process had not yet written (a few seconds'
worth) is lost: these are figures to decide with (who still downloads the
version I am about to yank), not a ledger.

What counts as a download: a GET of a distribution file without a Range
header, authorised here (served by this process, by nginx after
X-Accel-Redirect or by S3/a CDN after a redirect alike). HEADs, 304s,
ranges (uv reads a wheel's metadata with one) and `.metadata` files do not.
"""
from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from envelope import quotas
from envelope.models import AccessToken, DownloadCount, File, Organization, RequestCount, UpstreamObject, User
from envelope.orgs.capabilities import Capability
from envelope.orgs.membership import OrgAccess
from envelope.models.base import utcnow

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
WINDOW = timedelta(days=30)  # "recently": what the yank and delete pages warn about

Key = tuple[int, date, int, int]  # file_id, day, token_id (0: none), user_id (0: none)


class DownloadTally:
    """Counters of one process, written by a daemon thread started on first use.
    Keys and the upsert are download counts'; RequestTally reuses the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
        self._db = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def record(self, db, file_id: int, token_id: int | None, user_id: int | None, size: int) -> None:
        key = (file_id, utcnow().date(), token_id or 0, user_id or 0)
        with self._lock:
            counter = self._counts[key]
            counter[0] += 1
            counter[1] += size
            if self._thread is None:
                self._start(db)

    def _start(self, db) -> None:
        # After a fork (gunicorn --preload) each worker starts its own thread on its first download.
        self._db = db
        self._thread = threading.Thread(target=self._run, name="envelope-usage", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a database hiccup must not kill the thread; the counts wait for the next round
                log.exception("writing download counts failed; retrying in %.0f s", FLUSH_SECONDS)

    def flush(self) -> None:
        """Write what was counted since the last flush (once; on failure it is kept for the next)."""
        with self._lock:
            pending, self._counts = self._counts, defaultdict(lambda: [0, 0])
        if not pending or self._db is None:
            return
        try:
            with self._db.write() as session:
                for key, (downloads, size) in pending.items():
                    self._write(session, key, downloads, size)
        except Exception:
            with self._lock:  # put them back: counted again on the next round
                for key, (downloads, size) in pending.items():
                    counter = self._counts[key]
                    counter[0] += downloads
                    counter[1] += size
            raise

    def _write(self, session: Session, key: Key, downloads: int, size: int) -> None:
        file_id, day, token_id, user_id = key
        _add(session, file_id, day, token_id, user_id, downloads, size)


class RequestTally(DownloadTally):
    """Index page requests per organization and month ("2026-12"): one
    counter per key, the second slot unused."""

    def record_request(self, db, organization_id: int) -> None:
        now = utcnow()
        key = (organization_id, f"{now.year:04d}-{now.month:02d}")
        with self._lock:
            self._counts[key][0] += 1  # type: ignore[index]
            if self._thread is None:
                self._start(db)

    def _write(self, session: Session, key, downloads: int, size: int) -> None:
        organization_id, month = key
        if session.get(Organization, organization_id) is None:
            return
        insert = _insert_for(session)
        table = RequestCount.__table__
        statement = insert(table).values(organization_id=organization_id, month=month, requests=downloads)
        session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.organization_id, table.c.month],
            set_={"requests": table.c.requests + downloads},
        ))


class UseTally(DownloadTally):
    """Upstream cache objects used since the last flush: their last_used is
    set to the flush's time, so a request that serves one costs a dict update
    (and only once last_used is older than USE_RESOLUTION, see envelope.upstream.files)."""

    def record_use(self, db, object_id: int) -> None:
        with self._lock:
            self._counts[object_id][0] += 1  # type: ignore[index]
            if self._thread is None:
                self._start(db)

    def _write(self, session: Session, key, uses: int, size: int) -> None:
        # A row evicted meanwhile matches nothing: nothing to do.
        session.execute(update(UpstreamObject).where(UpstreamObject.id == key).values(last_used=utcnow()))


def _insert_for(session: Session):
    """The dialect's INSERT, which has on_conflict_do_update on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _add(session: Session, file_id: int, day: date, token_id: int, user_id: int, downloads: int, size: int) -> None:
    """One upsert, on SQLite and PostgreSQL alike; a file deleted since it
    was downloaded is skipped (its counts would go with it anyway)."""
    if session.get(File, file_id) is None:
        return
    insert = _insert_for(session)
    table = DownloadCount.__table__
    statement = insert(table).values(
        file_id=file_id, day=day, token_id=token_id, user_id=user_id, downloads=downloads, bytes=size
    )
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.file_id, table.c.day, table.c.token_id, table.c.user_id],
        set_={"downloads": table.c.downloads + downloads, "bytes": table.c.bytes + size},
    ))


_tallies: dict[int, DownloadTally] = {}  # one per database of this process (tests run several)
_tallies_lock = threading.Lock()


def tally_for(db) -> DownloadTally:
    with _tallies_lock:
        return _tallies.setdefault(id(db), DownloadTally())


_request_tallies: dict[int, RequestTally] = {}
_use_tallies: dict[int, UseTally] = {}


def record_index_request(db, organization_id: int) -> None:
    """Count one index page answered (Flask's views and web/machine/thin.py alike): a dict update."""
    with _tallies_lock:
        tally = _request_tallies.setdefault(id(db), RequestTally())
    tally.record_request(db, organization_id)


def flush_all() -> None:
    """Write every tally of this process now (tests; the threads do it every few seconds)."""
    with _tallies_lock:
        tallies = [*_tallies.values(), *_request_tallies.values(), *_use_tallies.values()]
    for tally in tallies:
        tally.flush()


def record_upstream_use(db, object_id: int) -> None:
    """Note that a cached upstream file was served (its last_used, written within FLUSH_SECONDS)."""
    with _tallies_lock:
        tally = _use_tallies.setdefault(id(db), UseTally())
    tally.record_use(db, object_id)


def admit_download(db, organization_id: int, file_id: int | None) -> None:
    """Before a file is answered: refused once the month's download quota is
    used up (envelope.quotas, cached figures: no SUM per download). Only the
    organization's own distribution files (a `file_id`) count; `.metadata`
    files and cached upstream files do not."""
    if file_id is not None:
        quotas.check_download(db, organization_id)


def count_download(db, file_id: int | None, token_id: int | None, user_id: int | None, size: int, *,
                   ranged: bool) -> None:
    """Once a GET's answer is ready: one download of the organization's own
    file, unless the client asked for a range of it (see the module's docstring)."""
    if file_id is not None and not ranged:
        tally_for(db).record(db, file_id, token_id, user_id, size)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Downloader:
    """One credential's downloads of a release in the window."""

    label: str  # "token ci (#3)", "user alice (password)"
    downloads: int
    last_day: date
    token_id: int | None


def since(now: datetime | None = None) -> date:
    return ((now or utcnow()) - WINDOW).date()


def release_downloads(session: Session, release_ids: list[int], *, start: date | None = None) -> dict[int, int]:
    """Downloads per release id (all time, or since `start`)."""
    if not release_ids:
        return {}
    query = (
        select(File.release_id, func.sum(DownloadCount.downloads))
        .join(File, File.id == DownloadCount.file_id)
        .where(File.release_id.in_(release_ids))
        .group_by(File.release_id)
    )
    if start is not None:
        query = query.where(DownloadCount.day >= start)
    return {release_id: int(total) for release_id, total in session.execute(query)}


def file_downloads(session: Session, file_ids: list[int], *, start: date | None = None) -> dict[int, int]:
    if not file_ids:
        return {}
    query = (
        select(DownloadCount.file_id, func.sum(DownloadCount.downloads))
        .where(DownloadCount.file_id.in_(file_ids))
        .group_by(DownloadCount.file_id)
    )
    if start is not None:
        query = query.where(DownloadCount.day >= start)
    return {file_id: int(total) for file_id, total in session.execute(query)}


def release_downloaders(session: Session, release_id: int, *, start: date) -> list[Downloader]:
    """Which credentials downloaded the release since `start`, most downloads first."""
    rows = session.execute(
        select(DownloadCount.token_id, DownloadCount.user_id,
               func.sum(DownloadCount.downloads), func.max(DownloadCount.day))
        .join(File, File.id == DownloadCount.file_id)
        .where(File.release_id == release_id, DownloadCount.day >= start)
        .group_by(DownloadCount.token_id, DownloadCount.user_id)
    ).all()
    tokens = {t.id: t for t in session.scalars(
        select(AccessToken).where(AccessToken.id.in_([r[0] for r in rows if r[0]])))}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_([r[1] for r in rows if r[1]])))}
    found = []
    for token_id, user_id, downloads, last_day in rows:
        if token_id:
            token = tokens.get(token_id)
            label = f"token {token.name} (#{token_id})" if token else f"token #{token_id} (deleted)"
        elif user_id and user_id in users:
            label = f"user {users[user_id].username} (password)"
        else:
            label = "an unknown credential"
        found.append(Downloader(label, int(downloads), last_day, token_id or None))
    return sorted(found, key=lambda d: (-d.downloads, d.label))


def downloaders_for(session: Session, access: OrgAccess, release_id: int) -> list[Downloader] | None:
    """Who downloaded the release lately, for those who may yank it (None
    for others). Maintainers and upload tokens see how many credentials;
    owners, who see every token of the organization anyway, see which."""
    if not access.allows(Capability.UPLOAD):
        return None
    found = release_downloaders(session, release_id, start=since())
    if not access.allows(Capability.MANAGE_MEMBERS):
        return [Downloader("a credential", d.downloads, d.last_day, None) for d in found]
    return found


@dataclass(frozen=True)
class ReleaseUsage:
    files: dict[int, int]  # file id -> downloads in the window
    downloaders: list[Downloader] | None  # see downloaders_for


def release_usage(session: Session, access: OrgAccess, release_id: int, file_ids: list[int]) -> ReleaseUsage:
    return ReleaseUsage(file_downloads(session, file_ids, start=since()), downloaders_for(session, access, release_id))
