"""Retention policies on a real SQLite database: the plan, the run, and what never goes."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from envelope.errors import Forbidden, InvalidInput
from envelope.lifecycle import retention
from envelope.models import AuditEvent, BlobCandidate, DeletedFilename, File, Release
from envelope.models.base import utcnow
from envelope.orgs.capabilities import DEPLOY_TOKEN
from envelope.orgs.identity import Caller
from envelope.orgs.membership import OrgAccess, operator_access
from envelope.usage import tally_for
from tests.unit.archives import wheel_bytes, wheel_filename

VERSIONS = ["1.0", "1.1.dev1", "1.1a1", "1.1b1", "1.1rc1", "2.0", "2.1.dev3"]


@pytest.fixture
def demo(database, organization, publish):
    """demo in seven releases, the older ones a year old."""
    for version in VERSIONS:
        publish(wheel_filename("demo", version), wheel_bytes("demo", version))
    with database.write() as session:
        session.execute(update(Release).where(Release.version.in_(["1.0", "1.1.dev1", "1.1a1", "2.0"]))
                        .values(created=utcnow() - timedelta(days=365)))
    return organization


def _set(database, organization, **policy):
    with database.write() as session:
        retention.set_policy(session, operator_access(organization, "tests"), **{
            "project": None, "keep_prereleases": None, "max_age_days": None, "include_downloaded": False, **policy})


def _versions(database) -> list[str]:
    with database.read() as session:
        return sorted(session.scalars(select(Release.version).join(File, File.release_id == Release.id)))


def test_dry_run_lists_what_would_go_and_why_and_changes_nothing(database, demo):
    _set(database, demo, keep_prereleases=2, max_age_days=180)
    decisions = retention.run(database, demo.id, dry_run=True)
    going = {d.version: d.reason for d in decisions if d.delete}
    assert going == {
        "1.1b1": "pre-release beyond the newest 2",
        "1.1a1": "pre-release beyond the newest 2",
        "1.1.dev1": "pre-release beyond the newest 2",
        "1.0": "older than 180 days",
    }
    kept = {d.version: d.reason for d in decisions if not d.delete}
    assert kept == {"2.0": "older than 180 days, but kept: the latest final release"}
    assert _versions(database) == sorted(VERSIONS)


def test_real_run_deletes_through_the_deletion_path(database, demo, storage):
    _set(database, demo, keep_prereleases=2, max_age_days=180)
    retention.run(database, demo.id, dry_run=False)
    assert _versions(database) == ["1.1rc1", "2.0", "2.1.dev3"]
    with database.read() as session:
        burned = set(session.scalars(select(DeletedFilename.filename)))
        audited = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "file.delete")))
        candidates = set(session.scalars(select(BlobCandidate.storage_key)))
    assert burned == {wheel_filename("demo", v) for v in ["1.0", "1.1.dev1", "1.1a1", "1.1b1"]}
    assert {e.actor for e in audited} == {retention.ACTOR} and len(audited) == 4
    assert len(candidates) == 4  # the blobs are the collector's now
    assert retention.run(database, demo.id, dry_run=False) == [
        retention.Decision("demo", "2.0", False, "older than 180 days, but kept: the latest final release", 1)]


def test_recent_downloads_keep_a_release_unless_the_owner_says_so(database, demo):
    with database.read() as session:
        file_id = session.scalar(select(File.id).where(File.filename == wheel_filename("demo", "1.1a1")))
    tally = tally_for(database)
    tally.record(database, file_id, None, None, 100)
    tally.flush()
    _set(database, demo, keep_prereleases=0)
    decisions = {d.version: d for d in retention.run(database, demo.id, dry_run=True)}
    assert decisions["1.1a1"].delete is False
    assert decisions["1.1a1"].reason.endswith("downloaded 1 times in the last 30 days")
    _set(database, demo, keep_prereleases=0, include_downloaded=True)
    retention.run(database, demo.id, dry_run=False)
    assert _versions(database) == ["1.0", "2.0"]


def test_a_project_policy_overrides_the_organization(database, demo, publish):
    publish(wheel_filename("other", "1.0a1"), wheel_bytes("other", "1.0a1"))
    publish(wheel_filename("other", "1.0"), wheel_bytes("other", "1.0"))
    _set(database, demo, keep_prereleases=0)
    _set(database, demo, project="demo", keep_prereleases=10)
    going = [(d.project, d.version) for d in retention.run(database, demo.id, dry_run=True) if d.delete]
    assert going == [("other", "1.0a1")]


def test_a_project_without_final_release_keeps_its_newest(database, organization, publish):
    for version in ["0.1a1", "0.1a2"]:
        publish(wheel_filename("early", version), wheel_bytes("early", version))
    _set(database, organization, max_age_days=1)
    decisions = retention.run(database, organization.id, dry_run=False, now=utcnow() + timedelta(days=3))
    assert [(d.version, d.delete) for d in decisions] == [("0.1a2", False), ("0.1a1", True)]
    assert _versions(database) == ["0.1a2"]


def test_bad_policies_are_refused_and_only_owners_set_them(database, organization):
    with pytest.raises(InvalidInput):
        _set(database, organization)
    with pytest.raises(InvalidInput):
        _set(database, organization, keep_prereleases=-1)
    with pytest.raises(InvalidInput):
        retention.parse_age("ten days")
    assert retention.parse_age("180d") == 180 and retention.parse_age("2w") == 14
    deploy = Caller(label="deploy", organization_id=organization.id, capabilities=DEPLOY_TOKEN)
    with database.write() as session, pytest.raises(Forbidden):
        retention.set_policy(session, OrgAccess(organization, deploy), project=None, keep_prereleases=1,
                             max_age_days=None, include_downloaded=False)
    with database.read() as session:
        assert retention.policies(session, organization) == []
