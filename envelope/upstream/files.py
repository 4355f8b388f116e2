"""Upstream files: fetched once per organization on first download, verified
against the sha256 its page gave, then served from Envelope's storage."""
from __future__ import annotations

import hmac
import logging
import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.orgs.identity import Caller
from envelope.packaging.distributions import MAX_METADATA_SIZE
from envelope.index.downloads import Download
from envelope.errors import InvalidDistribution, NotFound, UpstreamBusy, UpstreamError
from envelope.models import UpstreamObject
from envelope.names import parse_filename
from envelope.storage.media_types import METADATA_SUFFIX, content_type
from envelope.runtime import Runtime
from envelope.storage.base import content_addressed_key
from envelope import usage
from envelope.lifecycle.collector import UPSTREAM_PREFIX, claim_for_publish
from envelope.lifecycle.upstream_cache import USE_RESOLUTION
from envelope.models.base import utcnow
from envelope.upstream.client import download
from envelope.upstream import hold
from envelope.upstream.pages import current_page, fetch_slots
from envelope.upstream.proxy import Proxy, address_policy, proxy_for

log = logging.getLogger(__name__)


def find_download(rt: Runtime, organization_id: int, principal: Caller, sha256: str, filename: str) -> Download:
    """The stored copy of an upstream file or its `.metadata`, fetched now if
    this is its first download; NotFound unless the name is proxied for this
    organization, the caller may read it, the upstream page lists it, and it
    is past the organization's minimum age (even when a copy is stored)."""
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
    if hold.is_held(entry, hold.cut(proxy.min_age, utcnow())):
        # Not offered yet (the organization's minimum age): as if the upstream did not have it.
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
    return Download(row.storage_key, row.size, item.etag, item.content_type, item.download_name, row.cached)


def _stored_object(rt: Runtime, proxy: Proxy, url: str, sha256: str, filename: str,
                   content_type: str, max_size: int) -> UpstreamObject:
    """This organization's stored copy, or a new one fetched through its own
    upstream. The storage key is content-addressed, so organizations that
    fetched the same verified bytes share them; the row is per organization."""
    with rt.db.read() as session:
        row = _object_row(session, proxy.organization_id, sha256, filename)
    if row is not None:
        if row.last_used < utcnow() - USE_RESOLUTION:  # the cache budget evicts the least recently used
            usage.record_upstream_use(rt.db, row.id)  # written by a thread, not by this request
        return row
    key = UPSTREAM_PREFIX + content_addressed_key(sha256, filename)
    fd, spool_name = tempfile.mkstemp(dir=rt.settings.tmp_dir, prefix="upload-upstream-", suffix=".part")
    spool = Path(spool_name)
    try:
        with fetch_slots.take(proxy.organization_id) as granted, os.fdopen(fd, "wb") as out:
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
        row = _record(rt, proxy.organization_id, sha256, filename, key, size, spool, content_type)
    finally:
        spool.unlink(missing_ok=True)
    log.info("Cached %s from organization %d's upstream index (%d bytes).", filename, proxy.organization_id, size)
    return row


def _record(rt: Runtime, organization_id: int, sha256: str, filename: str, key: str, size: int,
            spool: Path, content_type: str) -> UpstreamObject:
    """Record the organization's row for bytes already put at `key`. The key
    may be one an eviction marked for the collector (envelope.lifecycle.collector):
    the transaction that inserts the row first claims the key, waiting for a
    collector holding it, then stores the bytes again from the spool if a
    collector removed them after our put. Whichever commits first, the blob
    the row names is stored."""
    try:
        with rt.db.write() as session:
            claim_for_publish(session, key)
            row = UpstreamObject(organization_id=organization_id, sha256=sha256, filename=filename,
                                 storage_key=key, size=size)
            session.add(row)
            session.flush()
            if not rt.storage.exists(key):
                rt.storage.put_file(key, spool, content_type=content_type)
    except IntegrityError:  # another request of this organization stored the same bytes first (and claimed the key)
        with rt.db.read() as session:
            row = _object_row(session, organization_id, sha256, filename)
    return row


def _object_row(session: Session, organization_id: int, sha256: str, filename: str) -> UpstreamObject | None:
    return session.scalar(
        select(UpstreamObject).where(UpstreamObject.organization_id == organization_id,
                                     UpstreamObject.sha256 == sha256, UpstreamObject.filename == filename)
    )
