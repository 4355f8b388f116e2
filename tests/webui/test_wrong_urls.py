"""Slips people make with URLs get a sentence that names the right one,
without confirming anything private to someone who holds no credential."""
from __future__ import annotations

from tests.webui.conftest import basic


def test_an_upload_posted_to_the_index_url_is_told_where_uploads_go(world):
    token = world.token(scope="upload")
    client = world.app.test_client()
    for path in ("/acme/simple/", "/acme/simple/billing/", "/nosuch/simple/"):
        response = client.post(path, headers=basic(token), data={":action": "file_upload"})
        org = path.split("/")[1]
        assert response.status_code == 405, path
        expected = f"Method Not Allowed: uploads go to https://pkgs.example.com/{org}/legacy/, not to the index URL."
        assert response.status == f"405 {expected}"  # twine prints the status line
        assert response.get_data(as_text=True) == expected + "\n"
        assert "GET" in response.headers["Allow"]
    # The address comes from ENVELOPE_BASE_URL, not from a Host header the sender chose.
    spoofed = client.post("/acme/simple/", headers={**basic(token), "Host": "evil.example"})
    assert "evil.example" not in spoofed.status and "https://pkgs.example.com/acme/legacy/" in spoofed.status
    assert client.post("/acme/files/").status_code == 404  # other unknown paths: a plain answer


def test_a_token_used_under_another_organizations_url_names_its_own(world):
    token = world.token(scope="upload")  # an acme token
    client = world.app.test_client()
    existing = client.get("/other/simple/", headers=basic(token))
    missing = client.get("/nosuch/simple/", headers=basic(token))
    assert existing.status_code == missing.status_code == 404
    assert existing.status == (
        "404 Not Found: this token belongs to the organization 'acme', not 'other'; "
        "use /acme/simple/ to install and /acme/legacy/ to upload."
    )
    # Whether 'other' exists is not told: the sentence depends only on the token.
    assert missing.status == existing.status.replace("'other'", "'nosuch'")
    upload = client.post("/other/legacy/", headers=basic(token), data={":action": "file_upload"})
    assert upload.status_code == 404 and "use /acme/simple/ to install and /acme/legacy/ to upload" in upload.status

    # Without a valid token nothing names any organization.
    stranger = client.get("/other/simple/", headers=basic("envl_" + "x" * 40))
    assert stranger.status_code == 401 and "acme" not in stranger.get_data(as_text=True)


def test_a_token_describes_itself_to_its_holder_only(world):
    from tests.webui.conftest import bearer

    restricted = world.token(scope="read", projects=["billing>=1,<2"], name="ci")
    client = world.app.test_client()
    me = client.get("/api/v1/orgs/acme/tokens/current", headers=bearer(restricted))
    assert me.status_code == 200
    body = me.get_json()
    assert (body["name"], body["scope"], body["projects"], body["status"]) == ("ci", "read", ["billing<2,>=1"], "active")
    assert "secret" not in body
    # Under another organization's URL: the same 404 as any outsider gets.
    assert client.get("/api/v1/orgs/other/tokens/current", headers=bearer(restricted)).status_code == 404
    # A browser session has no token to describe.
    assert world.browser("olivia").get("/api/v1/orgs/acme/tokens/current").status_code == 400
