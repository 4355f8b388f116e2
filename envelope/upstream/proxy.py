"""The upstream proxy: project names an organization does not publish itself
fall through to another simple index (PyPI's by default), so one index URL
serves private and public packages alike.

Dependency confusion is the danger, so one rule is checked at every step,
page and file alike: a name that has a private project in the organization,
or matches one of its reserved patterns, is never proxied — not its page,
not a file, not even versions the private project lacks.

Upstream pages are kept in the database with their own freshness
(ENVELOPE_UPSTREAM_TTL) and revalidated with If-None-Match; when the
upstream is down, the organization's last copy keeps serving. Files are
fetched once per organization, on first download, verified against the
sha256 the upstream page gave, and served from Envelope's storage from then on.

An upstream may be private, so everything kept is kept per organization:
another organization naming the same URL fetches its own copy with its own
credentials, and the upstream decides. An upstream that refuses an
organization (401/403) is believed at once: its stored page is dropped,
nothing stale is served, the names answer 404. Stale copies serve only
while the upstream is down or slow (a 5xx, a timeout, a refused connection).

Upstream work is bounded: each fetch has a deadline, connects only to
permitted addresses (envelope.upstream.network), and an organization runs
at most MAX_FETCHES_PER_ORGANIZATION at once per process, so a slow or
hostile upstream ties up a few threads of its own organization, not the
whole server.
"""
from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator
from urllib.parse import urlsplit

from packaging.version import Version
from pypi_simple import ProjectPage
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.index import pages as index
from envelope.audit import AuditAction, record_event
from envelope.orgs.capabilities import Capability
from envelope.orgs.identity import Caller
from envelope.packaging.distributions import MAX_METADATA_SIZE
from envelope.index.downloads import Download
from envelope.config import Settings
from envelope.errors import InvalidDistribution, InvalidInput, NotFound, UpstreamBusy, UpstreamError
from envelope.models import Organization, Project, UpstreamObject, UpstreamPage
from envelope.models.base import utcnow
from envelope.names import parse_filename
from envelope.storage.media_types import METADATA_SUFFIX, content_type
from envelope.runtime import Runtime
from envelope.sealing import seal, unseal
from envelope.storage.base import content_addressed_key
from envelope.upstream.client import (
    REFUSED, UNREACHABLE, FetchedPage, UpstreamIndex, download, fetch_project_page, split_index_url,
)
from envelope.upstream.network import AddressPolicy, AddressRefused

if TYPE_CHECKING:
    from envelope.orgs.membership import OrgAccess

log = logging.getLogger(__name__)

DEFAULT_UPSTREAM = "https://pypi.org/simple/"
NEGATIVE_TTL = 60  # seconds: "no such project upstream" is re-asked soon, new names appear
MAX_FETCHES_PER_ORGANIZATION = 2  # concurrent upstream fetches per organization, per web process
_PATTERN = re.compile(r"^[a-z0-9*?][a-z0-9*?-]*$")


@dataclass(frozen=True)
class Proxy:
    """An organization's upstream and the patterns it never proxies."""

    organization_id: int
    index: UpstreamIndex
    reserved: tuple[str, ...]

    def proxies(self, normalized_name: str) -> bool:
        return not any(fnmatch.fnmatchcase(normalized_name, p) for p in self.reserved)


# --- configuration ---------------------------------------------------------


def normalize_pattern(text: str) -> str:
    """'Acme_*' -> 'acme-*': patterns match PEP 503 normalized names."""
    pattern = re.sub(r"[-_.]+", "-", text.strip().lower())
    if not _PATTERN.fullmatch(pattern) or not re.search(r"[a-z0-9]", pattern):
        raise InvalidInput(
            f"Invalid reserved name pattern {text!r}: use a project name with * or ? "
            "wildcards, e.g. 'acme-*'."
        )
    return pattern


def address_policy(settings: Settings) -> AddressPolicy:
    """Where this instance's upstream proxy may connect: public addresses and
    ENVELOPE_UPSTREAM_ALLOW_ADDRESSES."""
    return AddressPolicy(settings.upstream_allow_addresses)


def change_settings(
    session: Session,
    access: OrgAccess,
    settings: Settings,
    *,
    enabled: bool | None = None,
    upstream_url: str | None = None,
    reserved: Iterable[str] | None = None,
    reserve: Iterable[str] = (),
    unreserve: Iterable[str] = (),
) -> None:
    """Change the organization's upstream proxy: the one way, for the
    settings page and `envelope org proxy`. Owners and the operator.

    `enabled` False turns it off, True on with `upstream_url` (blank: PyPI;
    credentials may be in it, sealed at rest and never shown again; the URL
    as shown, without credentials, keeps the sealed ones); None leaves it.
    `reserved` replaces the reserved patterns (the page's list); `reserve`
    and `unreserve` add and remove some (the CLI's options). Every pattern
    is checked before anything changes; InvalidInput for a bad pattern, a
    malformed URL or one on an address `settings` do not allow (each fetch
    checks again: DNS may change)."""
    access.require(Capability.MANAGE_SETTINGS, "change the upstream proxy")
    organization = access.organization
    current = list(organization.reserved_names or [])
    add = [normalize_pattern(p) for p in reserve if p.strip()]
    remove = [normalize_pattern(p) for p in unreserve if p.strip()]
    if reserved is not None:
        wanted = sorted({normalize_pattern(p) for p in reserved if p.strip()})
        add += [p for p in wanted if p not in current]
        remove += [p for p in current if p not in wanted]
    if enabled is False and organization.upstream_url is not None:
        _forget_pages(session, organization)
        organization.upstream_url = None
        organization.upstream_credentials_sealed = None
        record_event(session, organization.id, access.actor, AuditAction.proxy_disable, organization.name)
    elif enabled:
        url = (upstream_url or "").strip() or DEFAULT_UPSTREAM
        if url != organization.upstream_url:
            _set_upstream(session, organization, url, settings, access.actor)
    for pattern in add:
        if pattern not in current:
            current.append(pattern)
            record_event(session, organization.id, access.actor, AuditAction.proxy_reserve, pattern)
    for pattern in remove:
        if pattern in current:
            current.remove(pattern)
            record_event(session, organization.id, access.actor, AuditAction.proxy_unreserve, pattern)
    organization.reserved_names = sorted(current)


def _set_upstream(session: Session, organization: Organization, url: str, settings: Settings, actor: str) -> None:
    """Proxy to `url`; the pages stored for the previous upstream or
    credentials are dropped: the new ones decide what this organization may see."""
    index = split_index_url(url)
    try:
        # The check is for URLs an owner typed. PyPI's, the instance's own
        # default, is left to the fetch-time check: where a site's DNS points
        # pypi.org at an internal mirror, only an administrator can allow it.
        if index.url != DEFAULT_UPSTREAM:
            address_policy(settings).check_host(urlsplit(index.url).hostname or "")
    except AddressRefused:
        raise InvalidInput(
            f"The upstream index {index.url} is on a private or reserved network address, which the "
            "upstream proxy may not reach; an administrator can allow it with ENVELOPE_UPSTREAM_ALLOW_ADDRESSES."
        ) from None
    _forget_pages(session, organization)
    organization.upstream_url = index.url
    organization.upstream_credentials_sealed = (
        seal(settings.secret_key, json.dumps(index.credentials)) if index.credentials else None
    )
    record_event(session, organization.id, actor, AuditAction.proxy_enable, index.url,
                 authenticated=index.credentials is not None)


def _forget_pages(session: Session, organization: Organization) -> None:
    session.execute(delete(UpstreamPage).where(UpstreamPage.organization_id == organization.id))


def organization_proxy(organization: Organization, secret_key: str) -> Proxy | None:
    if organization.upstream_url is None:
        return None
    credentials = None
    if organization.upstream_credentials_sealed:
        user, password = json.loads(unseal(secret_key, organization.upstream_credentials_sealed))
        credentials = (user, password)
    return Proxy(organization.id, UpstreamIndex(organization.upstream_url, credentials),
                 tuple(organization.reserved_names or ()))


def proxy_for(session: Session, organization_id: int, normalized_name: str, secret_key: str) -> Proxy | None:
    """The proxy to ask for `normalized_name`, or None when it must not be
    proxied: the proxy is off, a private project has the name, or it is reserved."""
    organization = session.get(Organization, organization_id)
    if organization is None or organization.upstream_url is None:
        return None
    private = session.scalar(
        select(Project.id).where(Project.organization_id == organization_id,
                                 Project.normalized_name == normalized_name)
    )
    if private is not None:
        return None
    proxy = organization_proxy(organization, secret_key)
    return proxy if proxy is not None and proxy.proxies(normalized_name) else None


# --- pages -----------------------------------------------------------------


@dataclass(frozen=True)
class ProxiedPage:
    data: dict[str, Any]  # the PEP 691 dict, as envelope.index.pages builds for private projects
    serial: str  # changes whenever the upstream page does


def project_page(rt: Runtime, organization_id: int, principal: Caller, normalized_name: str) -> ProxiedPage:
    """The upstream's page for a name this organization proxies, limited to
    what `principal` may read; NotFound otherwise, exactly like a missing
    private project."""
    if not principal.may_read_project(normalized_name):
        raise NotFound("Not Found")
    with rt.db.read() as session:
        proxy = proxy_for(session, organization_id, normalized_name, rt.settings.secret_key)
    if proxy is None:
        raise NotFound("Not Found")
    page = current_page(rt, proxy, normalized_name)
    if page.status != 200:
        raise NotFound("Not Found")
    entries = [e for e in page.files if principal.may_read_version(normalized_name, e["version"])]
    entries.sort(key=lambda e: (Version(e["version"]), e["filename"]))
    data = {
        "meta": {"api-version": index.API_VERSION},
        "name": normalized_name,
        "versions": sorted({e["version"] for e in entries}, key=Version),
        "files": [_file_entry(e) for e in entries],
    }
    return ProxiedPage(data, page.digest)


def _file_entry(entry: dict[str, Any]) -> dict[str, Any]:
    metadata = {"sha256": entry["metadata_sha256"]} if entry["metadata_sha256"] else False
    out = {
        "filename": entry["filename"],
        # The same shape as a private file's URL: Envelope serves it, not the upstream.
        "url": index.files_url(entry["sha256"], entry["filename"]),
        "hashes": {"sha256": entry["sha256"]},
        "requires-python": entry["requires_python"],
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "yanked": entry["yanked"],
    }
    if entry["size"] is not None:
        out["size"] = entry["size"]
    if entry["upload_time"] is not None:
        out["upload-time"] = entry["upload_time"]
    return out


def current_page(rt: Runtime, proxy: Proxy, normalized_name: str) -> UpstreamPage:
    """The organization's stored page, refreshed first when it is older than
    its freshness.

    When the upstream is down or slow, or this organization already has
    MAX_FETCHES_PER_ORGANIZATION fetches under way, the organization's own
    last good page keeps serving (stale beats down); without one,
    UpstreamError or UpstreamBusy. An upstream that refuses the organization
    replaces its page with a refusal (status REFUSED): never served stale."""
    with rt.db.read() as session:
        row = _page_row(session, proxy, normalized_name)
    now = utcnow()
    if row is not None:
        ttl = rt.settings.upstream_ttl if row.status == 200 else min(NEGATIVE_TTL, rt.settings.upstream_ttl)
        if row.fetched + timedelta(seconds=ttl) > now:
            return row
    revalidate = row is not None and row.status == 200
    with _slots.take(proxy.organization_id) as granted:
        if not granted:
            if revalidate:
                return row
            raise UpstreamBusy(
                "The upstream index is busy with other requests of this organization; try again in a few seconds."
            )
        try:
            fetched = fetch_project_page(
                proxy.index, normalized_name, policy=address_policy(rt.settings),
                deadline=rt.settings.upstream_timeout,
                etag=row.etag if revalidate else None,
                last_modified=row.last_modified if revalidate else None,
            )
        except UpstreamError:
            if revalidate:
                log.warning("Serving organization %d its stale upstream page for %s.",
                            proxy.organization_id, normalized_name)
                return row
            raise
    if fetched.status == 304 and not revalidate:
        log.warning("The upstream index %s answered 304 to an unconditional request for %s.",
                    proxy.index.url, normalized_name)
        raise UpstreamError(UNREACHABLE)
    return _store_page(rt, proxy, normalized_name, fetched)


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
        if fetched.status == 200:
            files = usable_files(fetched.page, normalized_name)
            row.status, row.files, row.digest = 200, files, _digest(files)
            row.etag, row.last_modified = fetched.etag, fetched.last_modified
        elif fetched.status in (404, REFUSED):
            row.status, row.files, row.digest, row.etag, row.last_modified = fetched.status, [], "", None, None
    return row


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


_slots = _FetchSlots(MAX_FETCHES_PER_ORGANIZATION)


def usable_files(page: ProjectPage, normalized_name: str) -> list[dict[str, Any]]:
    """The page's wheels and sdists in Envelope's shape.

    A file is left out when it has no sha256 (it could not be verified), is
    not a wheel or sdist, or its filename names another project (its URL
    would not lead back to this page)."""
    files = []
    for package in page.packages:
        sha256 = (package.digests or {}).get("sha256", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            continue
        try:
            parsed = parse_filename(package.filename)
        except InvalidDistribution:
            continue
        if parsed.name != normalized_name:
            continue
        metadata_sha256 = (package.metadata_digests or {}).get("sha256") if package.has_metadata else None
        yanked: bool | str = (package.yanked_reason or True) if package.is_yanked else False
        files.append({
            "filename": package.filename,
            "version": str(parsed.version),
            "url": package.url,
            "metadata_url": package.metadata_url,
            "sha256": sha256,
            "metadata_sha256": metadata_sha256.lower() if metadata_sha256 else None,
            "requires_python": package.requires_python,
            "yanked": yanked,
            "size": package.size,
            "upload_time": package.upload_time.strftime(index.UPLOAD_TIME_FORMAT) if package.upload_time else None,
        })
    return files


def _digest(files: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


# --- files -----------------------------------------------------------------


def find_download(rt: Runtime, organization_id: int, principal: Caller, sha256: str, filename: str) -> Download:
    """The stored copy of an upstream file or its `.metadata`, fetched now if
    this is its first download; NotFound unless the name is proxied for this
    organization, the caller may read it, and the upstream page lists it."""
    wants_metadata = filename.endswith(METADATA_SUFFIX)
    dist_name = filename[: -len(METADATA_SUFFIX)] if wants_metadata else filename
    try:
        parsed = parse_filename(dist_name)
    except InvalidDistribution:
        raise NotFound("Not Found") from None
    if not principal.may_read_version(parsed.name, parsed.version):
        raise NotFound("Not Found")
    with rt.db.read() as session:
        proxy = proxy_for(session, organization_id, parsed.name, rt.settings.secret_key)
    if proxy is None:
        raise NotFound("Not Found")
    page = current_page(rt, proxy, parsed.name)
    if page.status != 200:
        raise NotFound("Not Found")
    entry = next((e for e in page.files if e["filename"] == dist_name
                  and hmac.compare_digest(e["sha256"], sha256)), None)
    if entry is None:
        raise NotFound("Not Found")
    if wants_metadata:
        if not entry["metadata_sha256"]:
            raise NotFound("Not Found")
        item = Download("", 0, entry["metadata_sha256"], content_type(filename), filename)
        return _stored(rt, proxy, entry["metadata_url"], item, MAX_METADATA_SIZE)
    item = Download("", 0, sha256, content_type(dist_name), dist_name)
    return _stored(rt, proxy, entry["url"], item, rt.settings.max_file_size)


def _stored(rt: Runtime, proxy: Proxy, url: str, item: Download, max_size: int) -> Download:
    """`item` with its storage key and size, fetching it into storage first if need be."""
    row = _stored_object(rt, proxy, url, item.etag, item.download_name, item.content_type, max_size)
    return Download(row.storage_key, row.size, item.etag, item.content_type, item.download_name)


def _stored_object(rt: Runtime, proxy: Proxy, url: str, sha256: str, filename: str,
                   content_type: str, max_size: int) -> UpstreamObject:
    """This organization's stored copy, or a new one fetched through its own
    upstream. The storage key is content-addressed, so organizations that
    fetched the same verified bytes share them; the row is per organization."""
    with rt.db.read() as session:
        row = _object_row(session, proxy.organization_id, sha256, filename)
    if row is not None:
        return row
    key = "upstream/" + content_addressed_key(sha256, filename)
    fd, spool_name = tempfile.mkstemp(dir=rt.settings.tmp_dir, prefix="upload-upstream-", suffix=".part")
    spool = Path(spool_name)
    try:
        with _slots.take(proxy.organization_id) as granted, os.fdopen(fd, "wb") as out:
            if not granted:
                raise UpstreamBusy(
                    "The upstream index is busy with other requests of this organization; "
                    "try again in a few seconds."
                )
            got, size = download(proxy.index, url, out, policy=address_policy(rt.settings), max_size=max_size)
        if not hmac.compare_digest(got, sha256):
            raise UpstreamError(
                f"{filename} from the upstream index does not match the sha256 its page gave; "
                "nothing was stored."
            )
        rt.storage.put_file(key, spool, content_type=content_type)
    finally:
        spool.unlink(missing_ok=True)
    try:
        with rt.db.write() as session:
            row = UpstreamObject(organization_id=proxy.organization_id, sha256=sha256, filename=filename,
                                 storage_key=key, size=size)
            session.add(row)
    except IntegrityError:  # another request of this organization stored the same bytes first
        with rt.db.read() as session:
            row = _object_row(session, proxy.organization_id, sha256, filename)
    log.info("Cached %s from organization %d's upstream index (%d bytes).", filename, proxy.organization_id, size)
    return row


def _object_row(session: Session, organization_id: int, sha256: str, filename: str) -> UpstreamObject | None:
    return session.scalar(
        select(UpstreamObject).where(UpstreamObject.organization_id == organization_id,
                                     UpstreamObject.sha256 == sha256, UpstreamObject.filename == filename)
    )
