"""The blob collector: removes stored bytes no file refers to any more.

Keys are content-addressed (envelope.storage.content_addressed_key), so two
organizations publishing the same bytes under the same filename share one
blob, and a deleted file's blob may be published again at any moment. The
collector must never remove a blob a file refers to. How that holds, with an
upload or a GitHub sync racing it:

1. delete_files marks the key (a BlobCandidate row) in the transaction that
   deletes the file. Only marked keys are ever examined: a blob that was never
   a deleted file's is never touched (a publish that crashed before its commit
   leaves such an orphan; harmless, and left alone).
2. The collector handles one key per transaction: it locks the candidate row
   (SELECT ... FOR UPDATE on PostgreSQL; SQLite's writers are serialized
   whole), re-checks in that transaction that no file row refers to the key,
   removes the blob and its `.metadata` object, then deletes the row.
3. publish_file, in the transaction that inserts the file row, first deletes
   the candidate row for its key (so it waits for a collector holding it),
   then checks the blob and its `.metadata` are still stored and writes again
   from its spool whatever is not. Whichever commits first, the other sees it: a collector that ran first
   left no blob and the publish restores it; a publish that ran first left a
   referencing row and the collector keeps the blob.
4. The grace period covers the one order the lock cannot: a publish whose
   transaction began (and found no candidate) before the key was marked,
   still uncommitted when the collector looks. Only candidates marked longer
   ago than any publish transaction lasts are examined.

The upstream proxy's cache goes the same way (envelope.lifecycle.upstream_cache):
eviction deletes an organization's UpstreamObject rows and marks their keys
(under "upstream/", never a file's key, but shared by every organization
that fetched the same bytes); an upstream fetch claims its key in the
transaction that records its row, as a publish does. So the re-check counts
UpstreamObject rows as references too, and the grace period also covers a
request that found a row just before its eviction and is still serving it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from envelope.db import Database
from envelope.models import BlobCandidate, File, UpstreamObject
from envelope.models.base import utcnow
from envelope.models.packaging import metadata_key
from envelope.storage import Storage

# Far longer than a publish transaction (a few row inserts) takes.
GRACE = timedelta(minutes=10)
BATCH = 500  # candidates examined per run; the next run takes the rest
UPSTREAM_PREFIX = "upstream/"  # keys of the upstream proxy's cache (envelope.upstream.files)


@dataclass
class Collection:
    removed: list[str] = field(default_factory=list)  # keys whose blobs went
    kept: list[str] = field(default_factory=list)  # keys a file still refers to


def mark_unreferenced(session: Session, keys: list[str]) -> None:
    """Record keys that may have lost their last file (called by delete_files
    in its transaction). A key marked again starts its grace period anew. One
    upsert per key, so two organizations deleting the same bytes at once do
    not collide on the primary key."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now, table = utcnow(), BlobCandidate.__table__
    for key in dict.fromkeys(keys):
        statement = insert(table).values(storage_key=key, marked=now)
        session.execute(statement.on_conflict_do_update(index_elements=[table.c.storage_key], set_={"marked": now}))


def claim_for_publish(session: Session, key: str) -> None:
    """Called by publish_file in the transaction that records a file with
    `key` (and by an upstream fetch recording its UpstreamObject), before it checks the blob is stored: waits for a collector holding
    the key, and takes the key off the list so no later run examines it."""
    session.execute(delete(BlobCandidate).where(BlobCandidate.storage_key == key))


def collect(db: Database, storage: Storage, *, grace: timedelta = GRACE, now: datetime | None = None,
            limit: int = BATCH) -> Collection:
    """Remove the blobs of candidates marked more than `grace` ago that no
    file refers to; candidates a file refers to again are dropped."""
    cutoff = (now or utcnow()) - grace
    with db.read() as session:
        keys = list(session.scalars(
            select(BlobCandidate.storage_key).where(BlobCandidate.marked <= cutoff)
            .order_by(BlobCandidate.marked).limit(limit)
        ))
    result = Collection()
    for key in keys:
        with db.write() as session:
            outcome = _collect_one(session, storage, key, cutoff)
        if outcome is True:
            result.removed.append(key)
        elif outcome is False:
            result.kept.append(key)
    return result


def _collect_one(session: Session, storage: Storage, key: str, cutoff: datetime) -> bool | None:
    """True: removed; False: still referenced; None: gone or re-marked meanwhile."""
    row = session.scalar(select(BlobCandidate).where(BlobCandidate.storage_key == key).with_for_update())
    if row is None or row.marked > cutoff:
        return None
    referenced = (
        session.scalar(select(File.id).where(File.storage_key == key).limit(1)) is not None
        or session.scalar(select(UpstreamObject.id).where(UpstreamObject.storage_key == key).limit(1)) is not None
    )
    if not referenced:
        storage.delete(key)
        if not key.startswith(UPSTREAM_PREFIX):  # an upstream `.metadata` is an object with a key of its own
            storage.delete(metadata_key(key))
    session.delete(row)
    return not referenced
