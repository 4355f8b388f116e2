"""The JSON API: token and cookie authentication, CSRF, permissions, errors."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from envelope.models import AccessToken, OutboxMessage
from tests.webui.conftest import SIMPLE_JSON, basic, bearer

API = "/api/v1/orgs"


@pytest.fixture
def client(app):
    return app.test_client()


def test_token_auth_reads_projects_and_releases(world, client):
    world.wheel("demo", "1.0")
    world.wheel("demo", "1.1", "cp313-cp313-manylinux_2_17_x86_64")
    secret = world.token(scope="read")
    for headers in (bearer(secret), basic(secret)):
        listing = client.get(f"{API}/acme/projects", headers=headers)
        assert listing.status_code == 200
        assert listing.get_json()["projects"][0] | {"updated": None} == {
            "name": "demo", "normalized_name": "demo", "latest_version": "1.1",
            "summary": "demo summary", "updated": None,
        }
    detail = client.get(f"{API}/acme/projects/Demo", headers=bearer(secret)).get_json()
    assert [r["version"] for r in detail["releases"]] == ["1.1", "1.0"]
    release = client.get(f"{API}/acme/projects/demo/releases/1.1", headers=bearer(secret)).get_json()
    assert release["files"][0]["filename"] == "demo-1.1-cp313-cp313-manylinux_2_17_x86_64.whl"
    assert release["coverage"]["cells"]["cp313"] == {
        "manylinux-x86_64": True, "manylinux-aarch64": False, "musllinux-x86_64": False,
        "musllinux-aarch64": False, "macos-x86_64": False, "macos-arm64": False, "windows-AMD64": False,
    }
    orgs = client.get(API, headers=bearer(secret)).get_json()
    assert orgs["organizations"][0]["name"] == "acme" and orgs["organizations"][0]["role"] == "reader"


def test_a_foreign_organizations_token_gets_404(world, client):
    world.wheel("demo", "1.0")
    foreign = world.token(world.other, scope="upload")
    for method, url in [("GET", f"{API}/acme"), ("GET", f"{API}/acme/projects"),
                        ("POST", f"{API}/acme/projects/demo/releases/1.0/yank")]:
        response = client.open(url, method=method, headers=bearer(foreign))
        assert response.status_code == 404
        assert response.get_json() == client.open(
            url.replace("acme", "nosuch"), method=method, headers=bearer(foreign)).get_json() | {
                "error": response.get_json()["error"]}


def test_bad_or_missing_credentials_get_401_in_json(world, client):
    response = client.get(f"{API}/acme/projects")
    assert response.status_code == 401 and "error" in response.get_json()
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="envelope"'
    assert client.get(f"{API}/acme/projects", headers=bearer("envl_nope")).status_code == 401
    assert client.get(f"{API}/acme/projects", headers=basic("a password")).status_code == 401



def test_unknown_paths_and_methods_answer_in_json(world, client):
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and "error" in missing.get_json()
    wrong = client.put(f"{API}/acme")
    assert wrong.status_code == 405 and "error" in wrong.get_json() and "GET" in wrong.headers["Allow"]
    # Outside /api/ the plain error pages are unchanged.
    assert client.get("/no/such/page").mimetype != "application/json"


def test_upload_token_yanks_within_its_restrictions_and_pip_sees_it(world, client):
    world.wheel("demo", "1.0")
    world.wheel("other-thing", "1.0")
    # Bound to a maintainer: a deploy token (no user) is for the index and uploads only.
    deploy = world.token(scope="upload", projects=["demo"])
    refused = client.post(f"{API}/acme/projects/demo/releases/1.0/yank", headers=bearer(deploy))
    assert refused.status_code == 403 and "Deploy tokens" in refused.get_json()["error"]
    secret = world.token(scope="upload", projects=["demo"], user=world.users["max"])
    response = client.post(f"{API}/acme/projects/demo/releases/1.0/yank", json={"reason": "bad"},
                           headers=bearer(secret))
    assert response.status_code == 200 and response.get_json()["files"][0]["yanked_reason"] == "bad"
    index = client.get("/acme/simple/demo/", headers={**basic(secret), "Accept": SIMPLE_JSON}).get_json()
    assert index["files"][0]["yanked"] == "bad"
    outside = client.post(f"{API}/acme/projects/other-thing/releases/1.0/yank", headers=bearer(secret))
    assert outside.status_code == 404
    reader = world.token(scope="read")
    refused = client.post(f"{API}/acme/projects/demo/releases/1.0/unyank", headers=bearer(reader))
    assert refused.status_code == 403 and "upload scope" in refused.get_json()["error"]


def test_tokens_never_act_as_owners(world, client):
    world.wheel("demo", "1.0")
    secret = world.token(scope="upload", user=world.users["olivia"])
    for method, url, body in [
        ("DELETE", f"{API}/acme/projects/demo/releases/1.0?confirm=1.0", None),
        ("POST", f"{API}/acme/tokens", {"name": "x"}),
        ("PATCH", f"{API}/acme/members/rita", {"role": "owner"}),
        ("POST", f"{API}/acme/repositories", {"full_name": "acme/x"}),
        ("POST", API, {"name": "newco"}),
    ]:
        response = client.open(url, method=method, json=body, headers=bearer(secret))
        assert response.status_code == 403, (url, response.get_json())


def test_cookie_requests_need_the_csrf_header_for_changes(world):
    owner = world.browser("olivia")
    assert owner.api("GET", f"{API}/acme/members").status_code == 200
    refused = owner.api("PATCH", f"{API}/acme/members/rita", {"role": "maintainer"}, csrf=False)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    done = owner.api("PATCH", f"{API}/acme/members/rita", {"role": "maintainer"})
    assert done.status_code == 200 and done.get_json()["role"] == "maintainer"


def test_members_api_and_the_last_owner(world):
    owner = world.browser("olivia")
    members = owner.api("GET", f"{API}/acme/members").get_json()["members"]
    assert [(m["username"], m["role"]) for m in members] == [
        ("max", "maintainer"), ("olivia", "owner"), ("rita", "reader")]
    assert owner.api("PATCH", f"{API}/acme/members/olivia", {"role": "reader"}).status_code == 409
    assert owner.api("DELETE", f"{API}/acme/members/olivia").status_code == 409
    assert owner.api("PATCH", f"{API}/acme/members/rita", {"role": "admin"}).status_code == 400
    assert world.browser("rita").api("DELETE", f"{API}/acme/members/rita").status_code == 204
    assert world.browser("max").api("DELETE", f"{API}/acme/members/olivia").status_code == 403


def test_token_lifecycle_over_the_api(world, client):
    world.wheel("demo", "1.0")
    maintainer = world.browser("max")
    created = maintainer.api("POST", f"{API}/acme/tokens",
                             {"name": "ci", "scope": "upload", "projects": ["demo>=1"], "expires": "7d"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["token"]["user"] == "max" and body["token"]["projects"] == ["demo>=1"]
    assert client.get("/acme/simple/demo/", headers=basic(body["secret"])).status_code == 200
    listed = maintainer.api("GET", f"{API}/acme/tokens").get_json()["tokens"]
    assert [t["name"] for t in listed] == ["ci"] and "secret" not in listed[0]
    token_id = body["token"]["id"]
    assert maintainer.api("POST", f"{API}/acme/tokens/{token_id}/revoke").get_json()["status"] == "revoked"
    assert client.get("/acme/simple/demo/", headers=basic(body["secret"])).status_code == 401
    assert maintainer.api("POST", f"{API}/acme/tokens",
                          {"name": "x", "deploy": True}).status_code == 403
    assert maintainer.api("POST", f"{API}/acme/tokens", {"name": 5}).status_code == 400
    assert maintainer.api("POST", f"{API}/acme/tokens", [1, 2]).status_code == 400


def test_delete_over_the_api_needs_the_confirmation(world):
    world.wheel("demo", "1.0")
    owner = world.browser("olivia")
    url = f"{API}/acme/projects/demo/releases/1.0"
    assert owner.api("DELETE", url).status_code == 400
    assert owner.api("DELETE", url + "?confirm=1").status_code == 400  # PEP 440-equal is not enough
    assert owner.api("GET", url).status_code == 200
    response = owner.api("DELETE", url + "?confirm=1.0")
    assert response.status_code == 200 and response.get_json() == {"deleted": ["demo-1.0-py3-none-any.whl"]}
    assert owner.api("GET", url).status_code == 404


def test_repositories_and_sync_now_over_the_api(world):
    owner = world.browser("olivia")
    created = owner.api("POST", f"{API}/acme/repositories", {"full_name": "acme/billing", "projects": ["billing"]})
    assert created.status_code == 201
    assert created.get_json()["webhook_url"] == "https://pkgs.example.com/hooks/github"
    assert created.get_json()["webhook_secret"]
    queued = owner.api("POST", f"{API}/acme/repositories/acme/billing/sync")
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    with world.db.read() as session:
        assert session.scalar(select(OutboxMessage.kwargs)) == {"run_id": queued.get_json()["run_id"]}
    runs = owner.api("GET", f"{API}/acme/repositories/acme/billing").get_json()["runs"]
    assert runs[0]["trigger"] == "manual"
    assert world.browser("otto").api("GET", f"{API}/other/repositories/acme/billing").status_code == 404
    assert owner.api("DELETE", f"{API}/acme/repositories/acme/billing").status_code == 204


def test_invitations_and_audit_over_the_api(world):
    owner = world.browser("olivia")
    created = owner.api("POST", f"{API}/acme/invitations", {"email": "nina@example.com", "role": "reader"})
    assert created.status_code == 201 and "/invitations/" in created.get_json()["link"]
    assert len(owner.api("GET", f"{API}/acme/invitations").get_json()["invitations"]) == 1
    invitation_id = created.get_json()["id"]
    assert owner.api("DELETE", f"{API}/acme/invitations/{invitation_id}").status_code == 204
    events = owner.api("GET", f"{API}/acme/audit").get_json()["events"]
    assert [e["action"] for e in events[:2]] == ["invitation.revoke", "invitation.create"]


def test_create_organization_over_the_api(world):
    nina = world.browser("nina")
    created = nina.api("POST", API, {"name": "newco"})
    assert created.status_code == 201 and created.get_json()["role"] == "owner"
    assert nina.api("POST", API, {"name": "newco"}).status_code == 409
    assert [o["name"] for o in nina.api("GET", API).get_json()["organizations"]] == ["newco"]


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == described


NOT_JSON = b"{this is not json"


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("bogus token", "POST", "/acme/tokens", 401),
        ("foreign token", "POST", "/acme/projects/demo/releases/1.0/yank", 404),
        ("read token", "POST", "/acme/projects/demo/releases/1.0/unyank", 403),
        ("read token", "POST", "/acme/repositories", 403),
        ("rita", "PATCH", "/acme/members/max", 403),
        ("rita", "POST", "/acme/invitations", 403),
        ("otto", "POST", "/acme/tokens", 404),
    ],
)
def test_callers_are_authorised_before_their_body_is_parsed(world, client, who, method, path, status):
    """A body that would be refused as malformed (400) is never looked at for
    a caller who may not make the request at all."""
    world.wheel("demo", "1.0")
    headers = {"Content-Type": "application/json"}
    if who.endswith("token"):
        secret = {"bogus token": "envl_" + "x" * 40, "foreign token": world.token(world.other, scope="upload"),
                  "read token": world.token(scope="read")}[who]
        response = client.open(API + path, method=method, data=NOT_JSON, headers={**headers, **bearer(secret)})
    else:
        browser = world.browser(who)
        response = browser.client.open(API + path, method=method, data=NOT_JSON,
                                       headers={**headers, "X-CSRFToken": browser.csrf})
    assert response.status_code == status, response.get_json()


def test_authorised_callers_still_get_400_for_a_malformed_body(world):
    owner = world.browser("olivia")
    response = owner.client.open(f"{API}/acme/members/rita", method="PATCH", data=NOT_JSON,
                                 headers={"Content-Type": "application/json", "X-CSRFToken": owner.csrf})
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


class Unreadable(io.RawIOBase):
    """A request body that must not be read: its declared length is over the limit."""

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def test_json_bodies_over_1_mib_get_413_before_they_are_read(world, client):
    secret = world.token(scope="upload")
    headers = {**bearer(secret), "Content-Type": "application/json"}
    declared = client.post(f"{API}/acme/tokens", headers=headers, environ_overrides={
        "wsgi.input": Unreadable(), "CONTENT_LENGTH": str(1024**2 + 1)})
    assert declared.status_code == 413 and "1048576 bytes" in declared.get_json()["error"]
    # Chunked, without a length: reading stops once the body passes the limit.
    payload = b'{"name": "' + b"x" * (1024**2) + b'"}'
    chunked = client.post(f"{API}/acme/tokens", data=payload, headers={**headers, "Transfer-Encoding": "chunked"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert chunked.status_code == 413 and "1048576 bytes" in chunked.get_json()["error"]
    form = client.post(f"{API}/acme/tokens", data={"name": "x" * (1024**2)}, headers=bearer(secret))
    assert form.status_code == 413
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 1  # the caller's own
