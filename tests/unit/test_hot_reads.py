"""HotReads (envelope/db.py) runs the index's per-request statements on
sqlite3 directly: each row must read exactly as SQLAlchemy's own execution
reads it, values converted by the columns' types (UTC datetimes, JSON) and
names included, or the thin path would answer from different facts than
Flask's views."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from envelope.db import HotReads
from envelope.index import downloads, pages
from envelope.models import Organization, UpstreamPage
from envelope.sealing import seal
from envelope.models.base import utcnow
from envelope.upstream.proxy import PROXY_STATE
from tests.unit.archives import wheel_bytes, wheel_filename


@pytest.fixture
def proxied(database, organization: Organization) -> int:
    """acme proxies an upstream with credentials, a reserved pattern and a
    minimum age, and has one stored page with every column set."""
    now = utcnow()
    with database.write() as session:
        org = session.get(Organization, organization.id)
        org.upstream_url = "https://upstream.example/simple/"
        org.upstream_credentials_sealed = seal("k" * 40, json.dumps(["user", "secret"]))
        org.reserved_names = ["acme-*"]
        org.upstream_min_age = 3600
        session.add(UpstreamPage(
            organization_id=org.id, upstream_url=org.upstream_url, normalized_name="numpy", status=200,
            files=[], digest="d" * 64, fetched=now - timedelta(hours=2), refresh_requested=now,
            upload_times=[1_700_000_000, 1_700_000_100],
        ))
    return organization.id


def _both(database, statement, params: dict):
    with database.autocommit() as connection:
        expected = connection.execute(statement, params).first()
    return expected, HotReads(database).execute(statement, params).first()


@pytest.mark.parametrize("min_age", [3600, 0])
def test_a_proxied_page_state_reads_as_sqlalchemy_reads_it(database, proxied: int, min_age: int) -> None:
    with database.write() as session:
        session.get(Organization, proxied).upstream_min_age = min_age
    expected, hot = _both(database, PROXY_STATE, {"organization_id": proxied, "name": "numpy"})
    assert tuple(hot) == tuple(expected)
    assert hot.fetched == expected.fetched and hot.fetched.tzinfo is not None
    assert hot.reserved_names == ["acme-*"] and hot.upstream_min_age == min_age
    assert hot[10] == ([1_700_000_000, 1_700_000_100] if min_age else None)  # the CASE carries its own literal 0
    missing, hot_missing = _both(database, PROXY_STATE, {"organization_id": proxied, "name": "absent"})
    assert tuple(hot_missing) == tuple(missing) and hot_missing.id_1 is None


def test_index_lookups_read_as_sqlalchemy_reads_them(database, organization: Organization, publish) -> None:
    filename = wheel_filename("demo", "1.0")
    publish(filename, wheel_bytes("demo", "1.0"))
    with database.autocommit() as connection:
        state = pages.project_state(connection, organization.id, "demo")
        found = downloads.lookup_file(connection, organization.id, filename)
    hot = HotReads(database)
    assert pages.project_state(hot, organization.id, "demo") == state
    hot_found = downloads.lookup_file(hot, organization.id, filename)
    assert hot_found.auth_epoch == found.auth_epoch
    assert hot_found.row._asdict() == found.row._asdict()
