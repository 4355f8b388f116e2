"""The upstream proxy: project names an organization does not publish itself
fall through to another simple index (PyPI's by default), so one index URL
serves private and public packages alike.

Dependency confusion is the danger, so one rule is checked at every step,
page and file alike: a name that has a private project in the organization,
or matches one of its reserved patterns, is never proxied — not its page,
not a file, not even versions the private project lacks.

Upstream pages are kept in the database with their own freshness
(ENVELOPE_UPSTREAM_TTL) and revalidated with If-None-Match; when the
upstream is down, the last copy keeps serving. Files are fetched once, on
first download, verified against the sha256 the upstream page gave, and
served from Envelope's storage from then on.
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from packaging.version import Version
from pypi_simple import ProjectPage
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope import index
from envelope.access import Principal
from envelope.audit import record_event
from envelope.distributions import MAX_METADATA_SIZE
from envelope.downloads import Download
from envelope.errors import InvalidDistribution, InvalidInput, NotFound, UpstreamError
from envelope.models import Organization, Project, UpstreamObject, UpstreamPage
from envelope.models.base import utcnow
from envelope.names import parse_filename
from envelope.media_types import METADATA_SUFFIX, content_type
from envelope.runtime import Runtime
from envelope.sealing import seal, unseal
from envelope.storage.base import content_addressed_key
from envelope.upstream_client import FetchedPage, UpstreamIndex, download, fetch_project_page, split_index_url

log = logging.getLogger(__name__)

DEFAULT_UPSTREAM = "https://pypi.org/simple/"
NEGATIVE_TTL = 60  # seconds: "no such project upstream" is re-asked soon, new names appear
_PATTERN = re.compile(r"^[a-z0-9*?][a-z0-9*?-]*$")


@dataclass(frozen=True)
class Proxy:
    """An organization's upstream and the patterns it never proxies."""

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


def configure(session: Session, organization: Organization, *, upstream_url: str | None,
              secret_key: str, actor: str) -> None:
    """Turn the proxy on (with `upstream_url`, credentials allowed in it) or off (None).

    The credentials are sealed at rest and never shown again."""
    if upstream_url is None:
        organization.upstream_url = None
        organization.upstream_credentials_sealed = None
        record_event(session, organization.id, actor, "proxy.disable", organization.name)
        return
    index = split_index_url(upstream_url)
    organization.upstream_url = index.url
    organization.upstream_credentials_sealed = (
        seal(secret_key, json.dumps(index.credentials)) if index.credentials else None
    )
    record_event(session, organization.id, actor, "proxy.enable", index.url,
                 authenticated=index.credentials is not None)


def set_reserved(session: Session, organization: Organization, *, add: list[str],
                 remove: list[str], actor: str) -> list[str]:
    """Add and remove reserved patterns; returns the new list."""
    current = list(organization.reserved_names or [])
    for pattern in map(normalize_pattern, add):
        if pattern not in current:
            current.append(pattern)
            record_event(session, organization.id, actor, "proxy.reserve", pattern)
    for pattern in map(normalize_pattern, remove):
        if pattern in current:
            current.remove(pattern)
            record_event(session, organization.id, actor, "proxy.unreserve", pattern)
    organization.reserved_names = sorted(current)
    return organization.reserved_names


def update_settings(session: Session, organization: Organization, *, enabled: bool, upstream_url: str,
                    reserved: list[str], secret_key: str, actor: str) -> None:
    """Save the settings page: on or off, the upstream (blank: PyPI; the URL
    shown, without credentials, keeps the sealed ones), the reserved patterns."""
    wanted = sorted({normalize_pattern(p) for p in reserved if p.strip()})
    if not enabled:
        if organization.upstream_url is not None:
            configure(session, organization, upstream_url=None, secret_key=secret_key, actor=actor)
    else:
        url = upstream_url.strip() or DEFAULT_UPSTREAM
        if url != organization.upstream_url:
            configure(session, organization, upstream_url=url, secret_key=secret_key, actor=actor)
    current = set(organization.reserved_names or [])
    set_reserved(session, organization, add=[p for p in wanted if p not in current],
                 remove=[p for p in current if p not in wanted], actor=actor)


def organization_proxy(organization: Organization, secret_key: str) -> Proxy | None:
    if organization.upstream_url is None:
        return None
    credentials = None
    if organization.upstream_credentials_sealed:
        user, password = json.loads(unseal(secret_key, organization.upstream_credentials_sealed))
        credentials = (user, password)
    return Proxy(UpstreamIndex(organization.upstream_url, credentials),
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
    data: dict[str, Any]  # the PEP 691 dict, as envelope.index builds for private projects
    serial: str  # changes whenever the upstream page does


def project_page(rt: Runtime, organization_id: int, principal: Principal, normalized_name: str) -> ProxiedPage:
    """The upstream's page for a name this organization proxies, limited to
    what `principal` may read; NotFound otherwise, exactly like a missing
    private project."""
    if not principal.may_read_project(normalized_name):
        raise NotFound("Not Found")
    with rt.db.read() as session:
        proxy = proxy_for(session, organization_id, normalized_name, rt.settings.secret_key)
    if proxy is None:
        raise NotFound("Not Found")
    page = current_page(rt, proxy.index, normalized_name)
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


def current_page(rt: Runtime, index: UpstreamIndex, normalized_name: str) -> UpstreamPage:
    """The stored page, refreshed first when it is older than its freshness.

    When the upstream fails, a stored page keeps serving (stale beats down);
    without one, UpstreamError."""
    with rt.db.read() as session:
        row = _page_row(session, index.url, normalized_name)
    now = utcnow()
    if row is not None:
        ttl = rt.settings.upstream_ttl if row.status == 200 else min(NEGATIVE_TTL, rt.settings.upstream_ttl)
        if row.fetched + timedelta(seconds=ttl) > now:
            return row
    revalidate = row is not None and row.status == 200
    try:
        fetched = fetch_project_page(
            index, normalized_name, timeout=rt.settings.upstream_timeout,
            etag=row.etag if revalidate else None,
            last_modified=row.last_modified if revalidate else None,
        )
    except UpstreamError as exc:
        if row is not None and row.status == 200:
            log.warning("Serving a stale upstream page for %s: %s", normalized_name, exc)
            return row
        raise
    if fetched.status == 304 and not revalidate:
        raise UpstreamError(f"The upstream index answered 304 to an unconditional request for {normalized_name}.")
    return _store_page(rt, index.url, normalized_name, fetched)


def _page_row(session: Session, upstream_url: str, normalized_name: str) -> UpstreamPage | None:
    return session.scalar(
        select(UpstreamPage).where(UpstreamPage.upstream_url == upstream_url,
                                   UpstreamPage.normalized_name == normalized_name)
    )


def _store_page(rt: Runtime, upstream_url: str, normalized_name: str, fetched: FetchedPage) -> UpstreamPage:
    try:
        return _write_page(rt, upstream_url, normalized_name, fetched)
    except IntegrityError:  # a concurrent first fetch inserted the row between our read and write
        return _write_page(rt, upstream_url, normalized_name, fetched)


def _write_page(rt: Runtime, upstream_url: str, normalized_name: str, fetched: FetchedPage) -> UpstreamPage:
    with rt.db.write() as session:
        row = _page_row(session, upstream_url, normalized_name)
        if row is None:
            row = UpstreamPage(upstream_url=upstream_url, normalized_name=normalized_name)
            session.add(row)
        row.fetched = utcnow()
        if fetched.status == 200:
            files = usable_files(fetched.page, normalized_name)
            row.status, row.files, row.digest = 200, files, _digest(files)
            row.etag, row.last_modified = fetched.etag, fetched.last_modified
        elif fetched.status == 404:
            row.status, row.files, row.digest, row.etag, row.last_modified = 404, [], "", None, None
    return row


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


def find_download(rt: Runtime, organization_id: int, principal: Principal, sha256: str, filename: str) -> Download:
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
    page = current_page(rt, proxy.index, parsed.name)
    entry = next((e for e in page.files if e["filename"] == dist_name
                  and hmac.compare_digest(e["sha256"], sha256)), None)
    if entry is None:
        raise NotFound("Not Found")
    if wants_metadata:
        if not entry["metadata_sha256"]:
            raise NotFound("Not Found")
        item = Download("", 0, entry["metadata_sha256"], content_type(filename), filename)
        return _stored(rt, proxy.index, entry["metadata_url"], item, MAX_METADATA_SIZE)
    item = Download("", 0, sha256, content_type(dist_name), dist_name)
    return _stored(rt, proxy.index, entry["url"], item, rt.settings.max_file_size)


def _stored(rt: Runtime, index: UpstreamIndex, url: str, item: Download, max_size: int) -> Download:
    """`item` with its storage key and size, fetching it into storage first if need be."""
    row = _stored_object(rt, index, url, item.etag, item.download_name, item.content_type, max_size)
    return Download(row.storage_key, row.size, item.etag, item.content_type, item.download_name)


def _stored_object(rt: Runtime, index: UpstreamIndex, url: str, sha256: str, filename: str,
                   content_type: str, max_size: int) -> UpstreamObject:
    with rt.db.read() as session:
        row = _object_row(session, sha256, filename)
    if row is not None:
        return row
    key = "upstream/" + content_addressed_key(sha256, filename)
    fd, spool_name = tempfile.mkstemp(dir=rt.settings.tmp_dir, prefix="upload-upstream-", suffix=".part")
    spool = Path(spool_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got, size = download(index, url, out, timeout=rt.settings.upstream_timeout, max_size=max_size)
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
            row = UpstreamObject(sha256=sha256, filename=filename, storage_key=key, size=size)
            session.add(row)
    except IntegrityError:  # another request stored the same bytes first: theirs is as good
        with rt.db.read() as session:
            row = _object_row(session, sha256, filename)
    log.info("Cached %s from the upstream index (%d bytes).", filename, size)
    return row


def _object_row(session: Session, sha256: str, filename: str) -> UpstreamObject | None:
    return session.scalar(
        select(UpstreamObject).where(UpstreamObject.sha256 == sha256, UpstreamObject.filename == filename)
    )
