"""The upstream cache budget against the real backends (a SQLite file with
local files; PostgreSQL with moto S3): eviction order, shared blobs, and
evictions and collections racing an upstream fetch of the same file, which
must stay servable whatever the order. The upstream is a local HTTP server
(tests.integration.fake_upstream); files are fetched through the domain's
own find_download, as the download view does."""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from envelope import migrate, quotas, usage
from envelope.config import Settings
from envelope.index.downloads import Download
from envelope.lifecycle import collector, upstream_cache
from envelope.lifecycle.upstream_cache import Budget
from envelope.models import AuditEvent, BlobCandidate, Organization, UpstreamObject
from envelope.models.base import utcnow
from envelope.orgs.identity import operator
from envelope.orgs.membership import operator_access
from envelope.orgs.organizations import create_organization
from envelope.runtime import Runtime
from envelope.upstream import files as upstream_files
from envelope.upstream import proxy
from tests.builders import make_wheel, sha256_file
from tests.conftest import make_backend
from tests.integration.fake_upstream import Recorder, html_index
from tests.integration.test_lifecycle import Interleaved

NAME = "cachedpkg"


@dataclass
class Stack:
    rt: Runtime
    upstream: Recorder
    wheels: dict[str, Path]  # version -> wheel
    acme: Organization
    globex: Organization

    def fetch(self, organization: Organization, version: str, rt: Runtime | None = None) -> Download:
        wheel = self.wheels[version]
        return upstream_files.find_download(rt or self.rt, organization.id, operator(organization, "tests"),
                                            sha256_file(wheel), wheel.name)

    def served(self, download: Download, version: str) -> bool:
        """The bytes the download names are stored, and are the wheel's."""
        if not self.rt.storage.exists(download.key):
            return False
        with self.rt.storage.open(download.key) as stream:
            return stream.read() == self.wheels[version].read_bytes()

    def fetches(self, version: str) -> int:
        """How often Envelope went to the upstream for the wheel."""
        return self.upstream.requests_for("/f/" + self.wheels[version].name)

    def rows(self, organization: Organization) -> dict[str, UpstreamObject]:
        with self.rt.db.read() as session:
            return {r.filename: r for r in session.scalars(
                select(UpstreamObject).where(UpstreamObject.organization_id == organization.id))}

    def set_budget(self, organization: Organization, budget: Budget) -> None:
        with self.rt.db.write() as session:
            org = session.get(Organization, organization.id)
            proxy.change_settings(session, operator_access(org, "tests"), self.rt.settings, cache_budget=budget)

    def last_used(self, version: str, when) -> None:
        with self.rt.db.write() as session:
            session.execute(update(UpstreamObject).where(UpstreamObject.filename == self.wheels[version].name)
                            .values(last_used=when))

    def evict(self, organization: Organization, **kwargs) -> upstream_cache.OrgEvictions:
        with self.rt.db.read() as session:
            org = session.get(Organization, organization.id)
            budget = upstream_cache.budget_of(org)
        return upstream_cache.evict(self.rt.db, organization.id, organization.name, budget, **kwargs)


def later() -> object:
    return utcnow() + collector.GRACE + timedelta(minutes=1)


@pytest.fixture(params=["sqlite-file", "postgres-s3"])
def stack(request, tmp_path: Path, monkeypatch) -> Stack:
    backend = make_backend(request.param, request)
    env = {**backend.env(), "ENVELOPE_DATA_DIR": str(tmp_path / "data"), "ENVELOPE_SECRET_KEY": "k" * 40,
           "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.0/8"}
    for name, value in backend.env().items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(env)
    migrate.upgrade(settings.database_url)
    rt = Runtime.from_settings(settings)
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    dist = tmp_path / "dist"
    dist.mkdir()
    wheels = {v: make_wheel(dist, NAME, v) for v in ("1.0", "2.0", "3.0")}
    upstream = html_index(NAME, list(wheels.values()))
    with rt.db.write() as session:
        orgs = [create_organization(session, n, actor="tests") for n in ("acme", "globex")]
        for org in orgs:
            proxy.change_settings(session, operator_access(org, "tests"), settings, enabled=True,
                                  upstream_url=upstream.base + "/simple/")
    yield Stack(rt, upstream, wheels, *orgs)
    upstream.shutdown()
    rt.db.dispose()


def test_the_size_budget_evicts_the_least_recently_used_and_a_later_request_fetches_it_again(stack: Stack) -> None:
    first = {v: stack.fetch(stack.acme, v) for v in ("1.0", "2.0", "3.0")}
    sizes = {v: d.size for v, d in first.items()}
    # 1.0 was fetched first but used last: it stays, 2.0 (used longest ago) goes first.
    now = utcnow()
    stack.last_used("2.0", now - timedelta(days=3))
    stack.last_used("3.0", now - timedelta(days=2))
    stack.last_used("1.0", now - timedelta(days=1))
    stack.set_budget(stack.acme, Budget(max_bytes=sizes["1.0"] + sizes["3.0"]))
    assert [e.obj.filename for e in stack.evict(stack.acme, dry_run=True).evicted] == [stack.wheels["2.0"].name]
    assert len(stack.rows(stack.acme)) == 3  # a dry run changes nothing

    result = stack.evict(stack.acme)
    assert [e.obj.filename for e in result.evicted] == [stack.wheels["2.0"].name]
    assert (result.freed, result.kept_files, result.kept_bytes) == (sizes["2.0"], 2, sizes["1.0"] + sizes["3.0"])
    assert set(stack.rows(stack.acme)) == {stack.wheels["1.0"].name, stack.wheels["3.0"].name}
    with stack.rt.db.read() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "proxy.cache_evict"))
        assert event.organization_id == stack.acme.id and event.detail["bytes"] == sizes["2.0"]
        assert quotas.org_usage(session, stack.acme.id).upstream_bytes == sizes["1.0"] + sizes["3.0"]

    # Within the grace period the blob stays: a request that found the row just before is still served.
    assert collector.collect(stack.rt.db, stack.rt.storage).removed == []
    assert stack.served(first["2.0"], "2.0")
    assert collector.collect(stack.rt.db, stack.rt.storage, now=later()).removed == [first["2.0"].key]
    assert not stack.rt.storage.exists(first["2.0"].key)
    assert stack.served(first["1.0"], "1.0") and stack.served(first["3.0"], "3.0")

    fetched = stack.fetches("2.0")
    again = stack.fetch(stack.acme, "2.0")
    assert stack.fetches("2.0") == fetched + 1  # from the upstream once more
    assert again.key == first["2.0"].key and stack.served(again, "2.0")


def test_the_age_budget_goes_by_last_use_which_serving_records(stack: Stack) -> None:
    stack.fetch(stack.acme, "1.0")
    stack.fetch(stack.acme, "2.0")
    long_ago = utcnow() - timedelta(days=100)
    stack.last_used("1.0", long_ago)
    stack.last_used("2.0", long_ago)
    stack.fetch(stack.acme, "2.0")  # served again: last use recorded off the request path
    usage.flush_all()
    rows = stack.rows(stack.acme)
    assert rows[stack.wheels["2.0"].name].last_used > utcnow() - timedelta(minutes=5)
    assert rows[stack.wheels["1.0"].name].last_used < utcnow() - timedelta(days=99)
    stack.set_budget(stack.acme, Budget(max_age=90 * 86400))
    [gone] = stack.evict(stack.acme).evicted
    assert gone.obj.filename == stack.wheels["1.0"].name and gone.reason == "unused for more than 90d"
    assert list(stack.rows(stack.acme)) == [stack.wheels["2.0"].name]


def test_another_organizations_copy_keeps_the_shared_blob(stack: Stack) -> None:
    mine = stack.fetch(stack.acme, "1.0")
    theirs = stack.fetch(stack.globex, "1.0")
    assert mine.key == theirs.key  # the same verified bytes: one blob
    stack.set_budget(stack.acme, Budget(max_bytes=0))
    assert len(stack.evict(stack.acme).evicted) == 1
    result = collector.collect(stack.rt.db, stack.rt.storage, now=later())
    assert (result.removed, result.kept) == ([], [mine.key])
    assert stack.served(stack.fetch(stack.globex, "1.0"), "1.0")
    assert stack.rows(stack.acme) == {}


def test_a_fetch_after_an_eviction_takes_the_key_back_from_the_collector(stack: Stack) -> None:
    """Evicted, then fetched again before the collector ran: the fetch's row
    claims the key, so the collector leaves the blob."""
    first = stack.fetch(stack.acme, "1.0")
    stack.set_budget(stack.acme, Budget(max_bytes=0))
    stack.evict(stack.acme)
    stack.fetch(stack.acme, "1.0")
    with stack.rt.db.read() as session:
        assert session.scalar(select(BlobCandidate)) is None
    assert collector.collect(stack.rt.db, stack.rt.storage, now=later()).removed == []
    assert stack.served(stack.fetch(stack.acme, "1.0"), "1.0") and stack.served(first, "1.0")


def test_a_collection_between_a_fetchs_store_and_its_commit_leaves_the_file_servable(stack: Stack) -> None:
    """acme's copy was evicted; globex fetches the same file and has stored
    the bytes when the collector, finding no row, removes them: globex's
    transaction sees the blob gone and stores it again."""
    key = stack.fetch(stack.acme, "1.0").key
    stack.set_budget(stack.acme, Budget(max_bytes=0))
    stack.evict(stack.acme)
    racing = Interleaved(stack.rt.storage, lambda method, k: method == "put_file" and k == key,
                         lambda: collector.collect(stack.rt.db, stack.rt.storage, now=later()))
    download = stack.fetch(stack.globex, "1.0", rt=dataclasses.replace(stack.rt, storage=racing))
    assert racing.fired
    assert download.key == key and stack.served(download, "1.0")
    assert collector.collect(stack.rt.db, stack.rt.storage, now=later() + timedelta(hours=1)).removed == []
    assert stack.served(stack.fetch(stack.globex, "1.0"), "1.0")


def test_a_fetch_racing_a_collector_holding_the_key_waits_and_the_file_stays_servable(stack: Stack) -> None:
    """The collector has decided and removed the blob, its transaction still
    open, when a fetch of the same file reaches its commit: the fetch waits
    for the collector, and its row names a stored blob."""
    key = stack.fetch(stack.acme, "1.0").key
    stack.set_budget(stack.acme, Budget(max_bytes=0))
    stack.evict(stack.acme)
    outcome: dict[str, object] = {}

    def fetch() -> None:
        try:
            outcome["download"] = stack.fetch(stack.globex, "1.0")
        except Exception as exc:  # reported below, in the test's thread
            outcome["error"] = exc

    fetcher = threading.Thread(target=fetch)

    def start_fetch_and_hold() -> None:
        fetcher.start()
        time.sleep(2.0)  # the fetch downloads, stores, reaches its transaction and waits there
        outcome["waited"] = fetcher.is_alive()

    racing = Interleaved(stack.rt.storage, lambda method, k: method == "delete" and k == key, start_fetch_and_hold)
    assert collector.collect(stack.rt.db, racing, now=later()).removed == [key]
    fetcher.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["waited"] is True
    assert outcome["download"].key == key and stack.served(outcome["download"], "1.0")
    assert collector.collect(stack.rt.db, stack.rt.storage, now=later() + timedelta(hours=1)).removed == []
    assert stack.served(stack.fetch(stack.globex, "1.0"), "1.0")

