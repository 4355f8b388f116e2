"""Trusted publishers on the organization's page (owners manage, members
see, CSRF on every form) and the /_/oidc endpoints' HTTP shape."""
from __future__ import annotations

from sqlalchemy import select

from envelope.models import AuditEvent, TrustedPublisher


def add(world, user: str = "olivia", **form: str):
    data = {"repository": "Acme/Billing", "workflow": "release.yml", "scope": "upload", **form}
    return world.browser(user).post("/acme/publishers", data)


def test_an_owner_adds_and_removes_a_publisher(world):
    response = add(world, environment="PyPI", projects="billing\nbilling-extras")
    assert response.status_code == 302
    with world.db.read() as session:
        publisher = session.scalar(select(TrustedPublisher))
        assert (publisher.repository, publisher.environment, publisher.projects) == (
            "acme/billing", "pypi", ["billing", "billing-extras"])
    page = world.browser("rita").get("/acme/publishers").get_data(as_text=True)
    assert "acme/billing" in page and "release.yml" in page and "Trust a workflow" not in page
    assert "uv publish --trusted-publishing always --publish-url https://pkgs.example.com/acme/legacy/" in page
    assert world.browser("olivia").post(f"/acme/publishers/{publisher.id}/remove").status_code == 302
    with world.db.read() as session:
        assert session.scalar(select(TrustedPublisher)) is None
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "publisher.add" in actions and "publisher.remove" in actions


def test_a_read_publisher_shows_the_install_steps(world):
    add(world, workflow="ci.yml", scope="read", projects="billing")
    page = world.browser("olivia").get("/acme/publishers").get_data(as_text=True)
    assert "ENVELOPE_URL: https://pkgs.example.com/acme" in page  # the step ci init writes, the URL filled in
    assert "/_/oidc/mint-token" in page and "PIP_INDEX_URL=" in page and "UV_INDEX_ENVELOPE_PASSWORD=" in page


def test_only_owners_manage_and_outsiders_see_nothing(world):
    assert add(world, "max").status_code == 403
    assert add(world, "rita").status_code == 403
    assert add(world, "otto").status_code == 404
    assert world.browser("otto").get("/acme/publishers").status_code == 404
    add(world)
    with world.db.read() as session:
        publisher_id = session.scalar(select(TrustedPublisher.id))
    assert world.browser("max").post(f"/acme/publishers/{publisher_id}/remove").status_code == 403
    assert world.browser("otto").post(f"/other/publishers/{publisher_id}/remove").status_code == 404


def test_forms_need_csrf_and_bad_input_is_a_clear_400(world):
    refused = world.browser("olivia").post("/acme/publishers", {"repository": "acme/x", "workflow": "r.yml"},
                                           csrf=False)
    assert refused.status_code == 400
    bad = add(world, workflow=".github/workflows/release.yml")
    assert bad.status_code == 400 and "file name in .github/workflows/ alone" in bad.get_data(as_text=True)
    add(world)
    assert add(world, repository="acme/billing").status_code == 409
    with world.db.read() as session:
        assert len(session.scalars(select(TrustedPublisher)).all()) == 1


def test_the_audience_and_malformed_exchanges(world, app):
    client = app.test_client()
    assert client.get("/_/oidc/audience").get_json() == {"audience": "envelope"}
    for body in (b"", b"not json", b"[]", b'{"token": 3}', b'{"other": "x"}'):
        response = client.post("/_/oidc/mint-token", data=body)
        assert response.status_code == 422, body
        error = response.get_json()["errors"][0]
        assert error["code"] == "invalid-payload" and "token" in error["description"]
    response = client.post("/_/oidc/mint-token", json={"token": "a.b.c"})
    assert response.status_code == 422 and response.get_json()["errors"][0]["code"] == "invalid-token"
    assert client.post("/_/oidc/burn-token", json={"token": "envl_unknown"}).status_code == 202
    assert client.post("/_/oidc/mint-token", data=b"x" * (65 * 1024)).status_code == 413


def test_mint_token_is_rate_limited_per_address(world, app):
    client = app.test_client()
    statuses = [client.post("/_/oidc/mint-token", json={"token": "a.b.c"}).status_code for _ in range(61)]
    assert statuses[:60] == [422] * 60 and statuses[60] == 429
    limited = client.post("/_/oidc/mint-token", json={"token": "a.b.c"})
    assert limited.get_json()["errors"][0]["code"] == "rate-limited"


API = "/api/v1/orgs"


def test_publishers_over_the_api(world):
    owner = world.browser("olivia")
    created = owner.api("POST", f"{API}/acme/publishers",
                        {"repository": "acme/app", "workflow": "ci.yml", "scope": "read", "projects": ["billing"]})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert (body["repository"], body["workflow"], body["scope"], body["projects"], body["environment"]) == (
        "acme/app", "ci.yml", "read", ["billing"], None)
    listed = world.browser("rita").api("GET", f"{API}/acme/publishers").get_json()["publishers"]
    assert [p["id"] for p in listed] == [body["id"]]
    assert world.browser("max").api("POST", f"{API}/acme/publishers",
                                     {"repository": "acme/x", "workflow": "x.yml"}).status_code == 403
    assert world.browser("otto").api("GET", f"{API}/acme/publishers").status_code == 404
    assert world.browser("otto").api("DELETE", f"{API}/other/publishers/{body['id']}").status_code == 404
    assert owner.api("POST", f"{API}/acme/publishers", {"repository": "acme/x"}).status_code == 400
    assert owner.api("DELETE", f"{API}/acme/publishers/{body['id']}").status_code == 204
    assert owner.api("GET", f"{API}/acme/publishers").get_json()["publishers"] == []


def test_the_cli_and_the_page_are_one_operation(world):
    from tests.webui.test_cli_parity import cli_error, envelope

    added = envelope(world, "publisher", "add", "--org", "acme", "--repository", "Acme/Billing", "--workflow",
                     "release.yml", "--environment", "pypi", "--project", "billing")
    publisher_id = int(added.stdout.strip().splitlines()[-1])
    listed = envelope(world, "publisher", "list", "--org", "acme").stdout.splitlines()
    assert listed[0].split("\t")[:5] == [str(publisher_id), "acme/billing", "release.yml", "pypi", "upload"]
    assert '"id": %d' % publisher_id in envelope(world, "publisher", "list", "--org", "acme", "--json").stdout
    bad = cli_error(envelope(world, "publisher", "add", "--org", "acme", "--repository", "acme/x", "--workflow",
                             "ci.sh", ok=False))
    page = add(world, repository="acme/x", workflow="ci.sh").get_data(as_text=True)
    assert bad.startswith("Invalid workflow 'ci.sh'") and bad.replace("'", "&#39;") in page
    envelope(world, "publisher", "remove", str(publisher_id))
    assert "No trusted publisher #%d" % publisher_id in cli_error(
        envelope(world, "publisher", "remove", str(publisher_id), ok=False))
    with world.db.read() as session:
        actors = {e.action: e.actor for e in session.scalars(select(AuditEvent))}
    assert "publisher.add" in actors and "publisher.remove" in actors
