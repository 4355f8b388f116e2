"""The audit log page: filters (who, what, project, dates), the CSV and
JSON exports under the same filters, and details written for people."""
from __future__ import annotations

import csv
import re
import io
from datetime import datetime, timezone

from sqlalchemy import update

from envelope.audit import AuditAction, record_event
from envelope.models import AuditEvent


def rows(page: str) -> str:
    """The table's part of the page (the filter's choices name every action too)."""
    start = page.find("<tbody>")
    return page[start:page.index("</tbody>", start)] if start >= 0 else ""


def seed(world) -> None:
    owner = world.browser("olivia")
    world.wheel("billing", "1.0")
    world.wheel("ledger", "1.0")
    owner.post("/acme/projects/billing/1.0/yank", {"reason": "broken build"})
    world.browser("max").post("/acme/projects/ledger/1.0/yank", {"reason": "wrong tag"})
    owner.post("/acme/members/rita/role", {"role": "maintainer"})
    with world.db.write() as session:
        record_event(session, world.acme.id, "user olivia", AuditAction.repo_add, "acme/billing", private=True,
                     projects=["billing", "ledger"])
        # An old event, for the date filter.
        record_event(session, world.acme.id, "user max", AuditAction.proxy_reserve, "internal-*")
        session.flush()
        session.execute(update(AuditEvent).where(AuditEvent.action == AuditAction.proxy_reserve)
                        .values(created=datetime(2025, 3, 1, 12, tzinfo=timezone.utc)))


def test_filters_by_who_what_project_and_dates(world):
    seed(world)
    owner = world.browser("olivia")
    by_max = rows(owner.get("/acme/audit?actor=MAX").get_data(as_text=True))
    assert "wrong tag" in by_max and "broken build" not in by_max and "internal-*" in by_max

    yanks = rows(owner.get("/acme/audit?action=file.yank").get_data(as_text=True))
    assert yanks.count("<tr>") == 2 and "member.role" not in yanks
    area = rows(owner.get("/acme/audit?action=member").get_data(as_text=True))
    assert "member.role" in area and "file.yank" not in area

    billing = rows(owner.get("/acme/audit?project=billing").get_data(as_text=True))
    assert "broken build" in billing and "wrong tag" not in billing
    assert "file.publish" in billing and "project.create" in billing  # by detail and by subject

    old = rows(owner.get("/acme/audit?since=2025-03-01&until=2025-03-01").get_data(as_text=True))
    assert old.count("<tr>") == 1 and "internal-*" in old
    recent = rows(owner.get("/acme/audit?since=2025-03-02").get_data(as_text=True))
    assert "internal-*" not in recent and "broken build" in recent

    none = owner.get("/acme/audit?actor=nobody").get_data(as_text=True)
    assert "No events match these filters" in none


def test_details_read_as_text_not_python(world):
    seed(world)
    page = rows(world.browser("olivia").get("/acme/audit?action=repo.add").get_data(as_text=True))
    assert "private repository" in page and "True" not in page
    assert "billing, ledger" in page and "[" not in page
    assert "Connected a repository" in page
    world.token(name="wide", expires=datetime(2031, 5, 4, 3, 2, 1, tzinfo=timezone.utc))
    tokens = rows(world.browser("olivia").get("/acme/audit?action=token.create").get_data(as_text=True))
    assert "projects:</span> all projects" in tokens and "expires:</span> 2031-05-04 03:02 UTC<" in tokens
    published = rows(world.browser("olivia").get("/acme/audit?action=file.publish").get_data(as_text=True))
    assert re.search(r"sha256:</span> [0-9a-f]{12}…<", published)


def test_bad_filters_are_a_clear_400_and_outsiders_get_404(world):
    owner = world.browser("olivia")
    bad = owner.get("/acme/audit?since=yesterday")
    assert bad.status_code == 400 and "must be a date like 2026-01-31" in bad.get_data(as_text=True)
    assert owner.get("/acme/audit?action=file.explode").status_code == 400
    assert world.browser("otto").get("/acme/audit/export.csv").status_code == 404
    assert world.browser("otto").get("/acme/audit?since=yesterday").status_code == 404
    assert owner.get("/acme/audit/export.xml").status_code == 404


def test_exports_stream_the_same_filtered_rows(world):
    seed(world)
    owner = world.browser("olivia")
    response = owner.get("/acme/audit/export.csv?project=billing")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="acme-audit.csv"'
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["action"] for r in table} == {"project.create", "file.publish", "file.yank"}
    yank = next(r for r in table if r["action"] == "file.yank")
    assert yank["actor"] == "user olivia" and yank["subject"] == "billing 1.0"
    assert '"reason": "broken build"' in yank["detail"] and yank["created"].endswith("Z")

    document = owner.get("/acme/audit/export.json?actor=max").get_json()
    assert [e["action"] for e in document] == ["file.yank", "proxy.reserve"]  # newest first
    assert {e["actor"] for e in document} == {"user max"}
    assert document[-1]["subject"] == "internal-*" and document[-1]["created"].startswith("2025-03-01T12:00:00")

    page = owner.get("/acme/audit?project=billing").get_data(as_text=True)
    assert 'href="/acme/audit/export.csv?project=billing"' in page


def test_csv_export_keeps_formulas_as_text(world):
    with world.db.write() as session:
        record_event(session, world.acme.id, "user olivia", AuditAction.token_create, "=HYPERLINK(\"x\")")
    body = world.browser("olivia").get("/acme/audit/export.csv?action=token.create").get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(body)))
    assert row["subject"] == "'=HYPERLINK(\"x\")"


def test_the_api_takes_the_same_filters(world):
    seed(world)
    events = world.browser("olivia").get("/api/v1/orgs/acme/audit?action=file.yank&actor=olivia").get_json()["events"]
    assert [(e["action"], e["subject"]) for e in events] == [("file.yank", "billing 1.0")]
    assert world.browser("olivia").get("/api/v1/orgs/acme/audit?until=soon").status_code == 400
