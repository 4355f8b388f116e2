"""Upstream project pages: fetched, kept per organization, revalidated, and
limited to what the caller may read (see envelope.upstream.proxy for the rules).

A proxied page is the upstream's project served under Envelope's URL, so it
says so the way PEP 708 provides: `meta.tracks` names the project page that
owns the name, which is the upstream's own (or, when the upstream is itself
a mirror that tracks another index, the pages it names: tracks point at the
owner, never at another tracker). The upstream's `alternate-locations` and
its PEP 792 status are carried as it gave them, and PEP 700's `upload-time`
is the upstream's, so `--exclude-newer` sees when a file was first published
upstream, not when Envelope fetched it.

A name with a private project is never proxied (envelope.upstream.proxy), and
its page claims no tracks or alternate locations: it is not the upstream's
project, and an installer that also sees the upstream's should refuse to
merge the two (PEP 708's point)."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

from packaging.version import Version
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.index import pages as index
from envelope.orgs.identity import Caller
from envelope.errors import NotFound, UpstreamBusy, UpstreamError
from envelope.models import Organization, ProjectStatus, TaskName, UpstreamPage
from envelope.models.base import utcnow
from envelope.outbox import enqueue
from envelope.runtime import Runtime
from envelope.upstream import contents, hold
from envelope.upstream.client import (
    REFUSED, UNREACHABLE, FetchedPage, fetch_project_page,
)

from envelope.upstream.proxy import (
    MAX_FETCHES_PER_ORGANIZATION, NEGATIVE_TTL, PROXY_STATE, Proxy, address_policy, proxy_for, proxy_from_state,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxiedPage:
    """A proxied project page as this caller may read it: its serial (for
    ETags) at once, its bytes from the page cache (`body`)."""

    rt: Runtime
    proxy: Proxy
    principal: Caller
    normalized_name: str
    row_id: int
    # The stored page's digest, which changes whenever the upstream page does,
    # the upstream's URL (_url_tag), and with a minimum age how many upload
    # times are past the cut, which changes when a held file comes of age
    # (envelope.upstream.hold).
    serial: str
    cut: int | None = None  # files uploaded after this epoch second are held back

    def body(self, as_json: bool, compressed: bool) -> bytes:
        """Rendered once per (stored page, restriction, format), like a private
        page per serial, and compressed once more when asked; the stored
        upstream page is read and decoded only to render."""
        key = (f"upstream:{self.proxy.organization_id}:{self.normalized_name}:{self.row_id}:{self.serial}:"
               f"{self.principal.restriction_key}:{int(as_json)}")
        return index.cached_body(self.rt.cache, key, lambda: index.render_page(self.data(), as_json), compressed)

    def data(self) -> dict[str, Any]:
        """The PEP 691 dict, as envelope.index.pages builds for private projects."""
        with self.rt.db.read() as session:
            row = session.get(UpstreamPage, self.row_id)
            if row is None or row.status != 200:  # dropped since (proxy off, upstream changed or refused)
                raise NotFound("Not Found")
            files, meta = list(row.files), row.project_meta or {}
        log.info("Rendering organization %d's proxied page for %s (%d files).",
                 self.proxy.organization_id, self.normalized_name, len(files))
        return page_data(self.proxy, self.principal, self.normalized_name, files, meta, cut=self.cut)


def project_page(rt: Runtime, organization_id: int, principal: Caller, normalized_name: str, *,
                 wait: bool = True) -> ProxiedPage | None:
    """The upstream's page for a name this organization proxies, limited to
    what `principal` may read; NotFound otherwise, exactly like a missing
    private project. Only a page never fetched before waits for the upstream
    (see current_page); without `wait`, None instead."""
    if not principal.may_read_project(normalized_name):
        raise NotFound("Not Found")
    proxy, row = _proxy_state(rt, organization_id, normalized_name)
    if proxy is None:
        raise NotFound("Not Found")
    page = current_page(rt, proxy, normalized_name, stored=row, wait=wait)
    if page is None:
        return None
    if page.status != 200:
        raise NotFound("Not Found")
    serial = f"{page.digest}.{_url_tag(proxy.index.url)}"
    cut_at = hold.cut(proxy.min_age, utcnow())
    if cut_at is None:
        return ProxiedPage(rt, proxy, principal, normalized_name, page.id, serial)
    times = page.upload_times if page.upload_times is not None else _fill_upload_times(rt, page.id)
    return ProxiedPage(rt, proxy, principal, normalized_name, page.id, f"{serial}.{hold.released(times, cut_at)}",
                       cut_at)


@dataclass(frozen=True)
class StoredPage:
    """What a request needs of a stored page to serve it from the page cache
    (its files and project keys are read only to render it)."""

    id: int
    status: int
    fetched: datetime
    refresh_requested: datetime | None
    digest: str
    upload_times: list[int] | None  # read only when the organization holds fresh files back


def _proxy_state(rt: Runtime, organization_id: int, normalized_name: str) -> tuple[Proxy | None, StoredPage | None]:
    """proxy_for's answer and the stored page (or None), in one statement:
    on a warm page this is all the database a request costs."""
    with rt.db.hot() as connection:
        row = connection.execute(PROXY_STATE, {"organization_id": organization_id, "name": normalized_name}).first()
    proxy = proxy_from_state(row, organization_id, normalized_name, rt.settings.secret_key)
    if proxy is None:
        return None, None
    return proxy, (StoredPage(*row[5:]) if row[5] is not None else None)


@functools.lru_cache(maxsize=256)
def _url_tag(url: str) -> str:
    """The upstream's URL in a page's serial: the page names it (PEP 708
    tracks), and the page of another upstream may have the same files and
    even the same row id (pages are dropped when the upstream changes).
    Hashed once per URL, not on every warm page request."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def _fill_upload_times(rt: Runtime, page_id: int) -> list[int]:
    """A page stored before upload times were kept: read its files once and keep them."""
    with rt.db.write() as session:
        row = session.get(UpstreamPage, page_id)
        times = hold.upload_times(row.files) if row is not None else []
        if row is not None:
            row.upload_times = times
    return times


def page_data(proxy: Proxy, principal: Caller, normalized_name: str, files: list[dict[str, Any]],
              meta: dict[str, Any], *, cut: int | None = None) -> dict[str, Any]:
    """A stored upstream page's files and project keys as the PEP 691 dict this
    caller may read, less the files uploaded after `cut` (held back)."""
    status = meta.get("status")
    entries = [e for e in files if principal.may_read_version(normalized_name, e["version"])
               and not hold.is_held(e, cut)]
    if status == ProjectStatus.quarantined:  # PEP 792: nothing of it is offered, whatever the upstream listed
        entries = []
    entries.sort(key=lambda e: (Version(e["version"]), e["filename"]))
    data: dict[str, Any] = {
        "meta": {"api-version": index.API_VERSION,
                 "tracks": meta.get("tracks") or [proxy.index.project_url(normalized_name)]},
        "name": normalized_name,
    }
    if meta.get("alternate-locations"):
        data["alternate-locations"] = meta["alternate-locations"]
    if status:
        data["project-status"] = index.status_entry(status, meta.get("status_reason"))
    data["versions"] = sorted({e["version"] for e in entries}, key=Version)
    data["files"] = [_file_entry(e) for e in entries]
    return data


def _file_entry(entry: dict[str, Any]) -> dict[str, Any]:
    metadata = {"sha256": entry["metadata_sha256"]} if entry["metadata_sha256"] else False
    out = {
        "filename": entry["filename"],
        # The same shape as a private file's URL: Envelope serves it, not the upstream.
        "url": index.files_url(entry["sha256"], entry["filename"]),
        "hashes": {"sha256": entry["sha256"]},
        "requires-python": entry["requires_python"],
        "core-metadata": metadata,
        "yanked": entry["yanked"],
    }
    if entry["size"] is not None:
        out["size"] = entry["size"]
    if entry["upload_time"] is not None:
        out["upload-time"] = entry["upload_time"]
    return out


REFRESH_GRACE = 60  # seconds: a refresh asked for longer ago than this is taken as lost, and asked again


def current_page(rt: Runtime, proxy: Proxy, normalized_name: str, *,
                 stored: UpstreamPage | StoredPage | None = None,
                 wait: bool = True) -> UpstreamPage | StoredPage | None:
    """The organization's stored page; only one never fetched before (or a
    stored "no such page" past its shorter freshness) waits for the upstream.

    A good page older than its freshness is served as it is, and the worker
    is asked to refresh it (request_refresh): a request never waits for an
    upstream it has already heard from, whether that upstream is slow, down
    or has changed. An upstream that refuses the organization is believed on
    that refresh: the page is replaced with a refusal (status REFUSED) and
    never served again. Without a stored page, when the upstream is down or
    slow or this organization already has MAX_FETCHES_PER_ORGANIZATION
    fetches under way: UpstreamError or UpstreamBusy.

    `stored` is the page when the caller has read it already (_proxy_state).
    Without `wait`, None where the upstream would be asked."""
    row = stored
    if row is None:
        with rt.db.read() as session:
            row = _page_row(session, proxy, normalized_name)
    now = utcnow()
    if row is not None:
        ttl = rt.settings.upstream_ttl if row.status == 200 else min(NEGATIVE_TTL, rt.settings.upstream_ttl)
        if row.fetched + timedelta(seconds=ttl) > now:
            return row
        if row.status == 200:
            request_refresh(rt, row, now)
            return row
    if not wait:
        return None
    with fetch_slots.take(proxy.organization_id) as granted:
        if not granted:
            raise UpstreamBusy(
                "The upstream index is busy with other requests of this organization; try again in a few seconds."
            )
        fetched = fetch_project_page(proxy.index, normalized_name, policy=address_policy(rt.settings),
                                     deadline=rt.settings.upstream_timeout)
    if fetched.status == 304:
        log.warning("The upstream index %s answered 304 to an unconditional request for %s.",
                    proxy.index.url, normalized_name)
        raise UpstreamError(UNREACHABLE)
    return _store_page(rt, proxy, normalized_name, fetched)


def request_refresh(rt: Runtime, row: UpstreamPage | StoredPage, now: datetime) -> bool:
    """Ask the worker to refresh a stale page, unless a refresh is already
    under way: one conditional UPDATE decides, so a burst of requests on any
    number of web processes queues one task. True when this call queued it."""
    if row.refresh_requested is not None and row.refresh_requested > now - timedelta(seconds=REFRESH_GRACE):
        return False  # the common case, answered from the row already read
    with rt.db.write() as session:
        claimed = session.execute(
            update(UpstreamPage)
            .where(UpstreamPage.id == row.id,
                   or_(UpstreamPage.refresh_requested.is_(None),
                       UpstreamPage.refresh_requested <= now - timedelta(seconds=REFRESH_GRACE)))
            .values(refresh_requested=now)
        ).rowcount
        if claimed:
            enqueue(session, TaskName.refresh_upstream_page, page_id=row.id)
    return bool(claimed)


def refresh_page(rt: Runtime, page_id: int) -> int | None:
    """The worker's side of request_refresh: revalidate the stored page with
    the upstream (If-None-Match) and store what it says. Returns the status
    stored, or None when nothing changed hands (the page is gone, no longer
    proxied, or the upstream is down: the old page keeps serving). Either
    way the request is cleared, so the next stale request may ask again."""
    with rt.db.read() as session:
        row = session.get(UpstreamPage, page_id)
        if row is None:
            return None
        name, etag, last_modified = row.normalized_name, row.etag, row.last_modified
        organization_id, upstream_url = row.organization_id, row.upstream_url
        proxy = proxy_for(session, organization_id, name, rt.settings.secret_key)
    try:
        if proxy is None or proxy.index.url != upstream_url:
            return None  # no longer proxied (a private project took the name, or the upstream changed)
        try:
            fetched = fetch_project_page(proxy.index, name, policy=address_policy(rt.settings),
                                         deadline=rt.settings.upstream_timeout, etag=etag,
                                         last_modified=last_modified)
        except UpstreamError as exc:
            log.warning("Could not refresh organization %d's upstream page for %s (%s); the stored one keeps serving.",
                        organization_id, name, exc)
            return None
        return _store_page(rt, proxy, name, fetched).status
    finally:
        with rt.db.write() as session:
            session.execute(update(UpstreamPage).where(UpstreamPage.id == page_id).values(refresh_requested=None))


def _page_row(session: Session, proxy: Proxy, normalized_name: str) -> UpstreamPage | None:
    return session.scalar(
        select(UpstreamPage).where(UpstreamPage.organization_id == proxy.organization_id,
                                   UpstreamPage.upstream_url == proxy.index.url,
                                   UpstreamPage.normalized_name == normalized_name)
    )


def _store_page(rt: Runtime, proxy: Proxy, normalized_name: str, fetched: FetchedPage) -> UpstreamPage:
    try:
        return _write_page(rt, proxy, normalized_name, fetched)
    except IntegrityError:  # a concurrent first fetch inserted the row between our read and write
        return _write_page(rt, proxy, normalized_name, fetched)


def _write_page(rt: Runtime, proxy: Proxy, normalized_name: str, fetched: FetchedPage) -> UpstreamPage:
    with rt.db.write() as session:
        row = _page_row(session, proxy, normalized_name)
        if row is None:
            row = UpstreamPage(organization_id=proxy.organization_id, upstream_url=proxy.index.url,
                               normalized_name=normalized_name)
            session.add(row)
        row.fetched = utcnow()
        if fetched.status == 304:  # unchanged: only its freshness moves
            pass
        elif fetched.status == 200:
            files, meta = contents.usable_files(fetched.page, normalized_name), contents.project_meta(fetched.page, normalized_name)
            row.status, row.files, row.project_meta, row.digest = 200, files, meta, _digest(files, meta)
            row.etag, row.last_modified = fetched.etag, fetched.last_modified
        elif fetched.status in (404, REFUSED):
            row.status, row.files, row.digest, row.etag, row.last_modified = fetched.status, [], "", None, None
            row.project_meta = None
        row.upload_times = hold.upload_times(row.files or [])
        _note_held(session, proxy, row)
    return row


def _note_held(session: Session, proxy: Proxy, row: UpstreamPage) -> None:
    """Record, log and count the versions the minimum age holds back, once per
    fetch or refresh of the page (not per request); a version is counted the
    first time it is seen held."""
    held = hold.held_versions(row.files or [], proxy.min_age, row.fetched) if row.status == 200 else {}
    new = [version for version in held if version not in (row.held or {})]
    row.held = held or None
    if not held:
        return
    log.info("Organization %d's upstream proxy holds back %s (minimum age %s): %s.",
             proxy.organization_id, row.normalized_name, hold.format_min_age(proxy.min_age),
             ", ".join(f"{version} until {until}" for version, until in held.items()))
    if new:
        session.execute(update(Organization).where(Organization.id == proxy.organization_id)
                        .values(upstream_held_total=Organization.upstream_held_total + len(new)))


class _FetchSlots:
    """At most `limit` upstream fetches per organization at once in this
    process: one whose upstream is slow (or a tarpit) ties up that many
    threads, and its other requests are turned away at once instead of
    queueing for every thread the server has."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._busy: dict[int, int] = {}

    @contextmanager
    def take(self, organization_id: int) -> Iterator[bool]:
        """Yields whether a slot was free (and holds it until the block ends)."""
        with self._lock:
            granted = self._busy.get(organization_id, 0) < self._limit
            if granted:
                self._busy[organization_id] = self._busy.get(organization_id, 0) + 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._busy[organization_id] -= 1
                    if not self._busy[organization_id]:
                        del self._busy[organization_id]


fetch_slots = _FetchSlots(MAX_FETCHES_PER_ORGANIZATION)


def _digest(files: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    return hashlib.sha256(json.dumps([files, meta or {}], sort_keys=True).encode()).hexdigest()
