"""PEP 792 project status from the project page and the CLI (one domain
function, one audit event), and what each status does to the index, the
JSON API, downloads and uploads, through the real app and Flask's test client."""
from __future__ import annotations

import html

from envelope.errors import Forbidden
from envelope.index.pages import API_VERSION
from envelope.models import Project, ProjectStatus
from tests.webui.conftest import SIMPLE_JSON, basic
from tests.webui.test_cli_parity import cli_error, envelope, events


def _status(world, name: str = "billing") -> tuple[str, str | None]:
    with world.db.read() as session:
        project = session.query(Project).filter_by(normalized_name=name).one()
        return ProjectStatus(project.status).value, project.status_reason


def test_a_maintainer_sets_the_status_on_the_manage_page_and_the_banner_shows_it(world):
    world.wheel("billing", "1.0")
    maintainer = world.browser("max")
    page = maintainer.get("/acme/projects/billing/manage").get_data(as_text=True)
    assert 'name="status" value="archived"' in page and "status-banner" not in page

    done = maintainer.post("/acme/projects/billing/status", {"status": "archived", "reason": " Moved to ledger "},
                           follow_redirects=True)
    assert done.status_code == 200
    text = html.unescape(done.get_data(as_text=True))
    assert "billing is now archived." in text
    assert 'id="project-status-banner"' in text and "Moved to ledger" in text
    assert _status(world) == ("archived", "Moved to ledger")
    (event,) = events(world, "project.status")
    assert (event.actor, event.subject) == ("user max", "billing")
    assert event.detail == {"status": "archived", "previous": "active", "reason": "Moved to ledger"}

    # Back to active drops the reason; the banner goes.
    maintainer.post("/acme/projects/billing/status", {"status": "active", "reason": "ignored"})
    assert _status(world) == ("active", None)
    assert "status-banner" not in maintainer.get("/acme/projects/billing/").get_data(as_text=True)


def test_the_form_needs_its_csrf_token_and_a_maintainer(world):
    world.wheel("billing", "1.0")
    refused = world.browser("max").post("/acme/projects/billing/status", {"status": "quarantined"}, csrf=False)
    assert refused.status_code == 400
    reader = world.browser("rita")
    assert 'action="/acme/projects/billing/status"' not in reader.get("/acme/projects/billing/").get_data(as_text=True)
    assert reader.get("/acme/projects/billing/manage").status_code == 403
    assert reader.post("/acme/projects/billing/status", {"status": "quarantined"}).status_code == 403
    assert world.browser("otto").post("/acme/projects/billing/status", {"status": "archived"}).status_code == 404
    assert _status(world) == ("active", None) and events(world, "project.status") == []


def test_the_cli_and_the_page_refuse_alike_and_write_the_same_event(world):
    world.wheel("billing", "1.0")
    owner = world.browser("olivia")
    long_reason = "x" * 501
    refused = cli_error(envelope(world, "project", "status", "acme", "billing", "archived", "--reason", long_reason,
                                 ok=False))
    page = owner.post("/acme/projects/billing/status", {"status": "archived", "reason": long_reason})
    assert page.status_code == 400 and refused in html.unescape(page.get_data(as_text=True))
    missing = cli_error(envelope(world, "project", "status", "acme", "nothing", "archived", ok=False))
    assert owner.post("/acme/projects/nothing/status", {"status": "archived"}).status_code == 404
    assert missing == "No project 'nothing' in 'acme'."
    unknown = owner.post("/acme/projects/billing/status", {"status": "frozen"})
    assert unknown.status_code == 400 and "use one of active, archived, quarantined, deprecated" in unknown.get_data(
        as_text=True)

    out = envelope(world, "project", "status", "acme", "Billing", "deprecated", "--reason", "Use ledger").stdout
    assert out.strip() == "billing in acme: deprecated (Use ledger)."
    assert envelope(world, "project", "status", "acme", "billing").stdout.strip() == out.strip()
    owner.post("/acme/projects/billing/status", {"status": "deprecated", "reason": "Use ledger"})
    cli_event, page_event = events(world, "project.status")
    assert cli_event.actor.startswith("cli ") and page_event.actor == "user olivia"
    assert cli_event.subject == page_event.subject == "billing"
    assert cli_event.detail == {"status": "deprecated", "previous": "active", "reason": "Use ledger"}
    assert page_event.detail == {**cli_event.detail, "previous": "deprecated"}


def test_what_each_status_does_to_the_index_downloads_and_uploads(world):
    wheel = world.wheel("billing", "1.0")
    token = world.token(scope="upload")
    client = world.app.test_client()
    file_url = f"/acme/files/{wheel.sha256}/{wheel.filename}"

    def simple() -> tuple[dict, str]:
        as_json = client.get("/acme/simple/billing/", headers={**basic(token), "Accept": SIMPLE_JSON})
        as_html = client.get("/acme/simple/billing/", headers=basic(token))
        assert as_json.status_code == as_html.status_code == 200
        return as_json.get_json(), as_html.get_data(as_text=True)

    page, text = simple()
    assert page["meta"]["api-version"] == API_VERSION
    assert page["project-status"] == {"status": "active"}
    assert '<meta name="pypi:project-status" content="active">' in text
    assert "tracks" not in page["meta"] and "alternate-locations" not in page  # a private project tracks nothing

    envelope(world, "project", "status", "acme", "billing", "archived", "--reason", "Done <for> good")
    page, text = simple()
    assert page["project-status"] == {"status": "archived", "reason": "Done <for> good"}
    assert [f["filename"] for f in page["files"]] == [wheel.filename]
    assert '<meta name="pypi:project-status" content="archived">' in text
    assert '<meta name="pypi:project-status-reason" content="Done &lt;for&gt; good">' in text
    assert client.get(file_url, headers=basic(token)).status_code == 200
    assert client.get("/acme/pypi/billing/json", headers=basic(token)).status_code == 200
    try:
        world.wheel("billing", "2.0")
        raise AssertionError("an archived project took an upload")
    except Forbidden as exc:
        assert "Project 'billing' is archived (Done <for> good): it accepts no new uploads." in str(exc)
    world.wheel("billing", "1.0")  # the same bytes again stay a no-op, not a refusal

    envelope(world, "project", "status", "acme", "billing", "quarantined")
    page, text = simple()
    assert page["project-status"] == {"status": "quarantined"} and page["files"] == [] and page["versions"] == []
    assert "<a " not in text and '<meta name="pypi:project-status" content="quarantined">' in text
    assert client.get(file_url, headers=basic(token)).status_code == 404
    assert client.get(file_url + ".metadata", headers=basic(token)).status_code == 404
    assert client.get("/acme/pypi/billing/json", headers=basic(token)).status_code == 404
    assert client.get("/acme/pypi/billing/1.0/json", headers=basic(token)).status_code == 404

    envelope(world, "project", "status", "acme", "billing", "deprecated")
    page, _ = simple()
    assert page["project-status"] == {"status": "deprecated"} and len(page["files"]) == 1
    assert world.wheel("billing", "2.0").filename == "billing-2.0-py3-none-any.whl"
