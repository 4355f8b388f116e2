"""Tokens in the web UI: created once-visible, restricted as asked, revocable."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from envelope.models import AccessToken
from tests.webui.conftest import SIMPLE_JSON, basic, snippet

SECRET = re.compile(r'<pre id="token-secret"[^>]*>(envl_\w+)</pre>')


def create(browser, **form: str):
    response = browser.post("/acme/tokens", {"name": "laptop", "scope": "read", "expires": "30d", **form})
    return response, SECRET.search(response.get_data(as_text=True))


def test_token_created_in_the_page_works_on_the_index_and_is_restricted(world):
    world.wheel("demo", "1.0")
    world.wheel("demo", "2.0")
    world.wheel("secret-project", "1.0")
    response, match = create(world.browser("rita"), projects="demo>=2\n")
    assert response.status_code == 200 and match
    assert response.headers["Cache-Control"] == "no-store"
    secret = match.group(1)
    page = response.get_data(as_text=True)
    authed = f"https://__token__:{secret}@pkgs.example.com/acme/simple/"
    assert snippet(page, "pip-conf") == f"[global]\nindex-url = {authed}\n"
    assert snippet(page, "env") == f'export PIP_INDEX_URL="{authed}"\n'
    assert f'poetry config http-basic.acme __token__ "{secret}"' in snippet(page, "poetry")
    assert f'UV_INDEX_ACME_PASSWORD="{secret}"' in snippet(page, "uv-env")
    assert snippet(page, "pip-cli") == f'pip install --index-url "{authed}" demo\n'  # the token's project
    assert "Publish with it" not in page and "TWINE_PASSWORD" not in page  # a read token
    assert "Do not add PyPI as a second index" in page

    index = world.app.test_client()
    headers = {**basic(secret), "Accept": SIMPLE_JSON}
    listing = index.get("/acme/simple/", headers=headers)
    assert listing.status_code == 200
    assert [p["name"] for p in listing.get_json()["projects"]] == ["demo"]
    detail = index.get("/acme/simple/demo/", headers=headers).get_json()
    assert detail["versions"] == ["2.0"]
    assert index.get("/acme/simple/secret-project/", headers=headers).status_code == 404
    assert index.get("/other/simple/", headers=headers).status_code == 404

    # Shown once: the list shows only the hint.
    listed = world.browser("rita").get("/acme/tokens").get_data(as_text=True)
    assert secret not in listed and secret[:11] in listed and "demo&gt;=2" in listed


def test_token_expiry_presets_and_date(world):
    before = datetime.now(timezone.utc)
    create(world.browser("rita"), name="week", expires="7d")
    create(world.browser("rita"), name="forever", expires="never")
    create(world.browser("rita"), name="dated", expires_on="2999-01-31")
    with world.db.read() as session:
        tokens = {t.name: t.expires for t in session.scalars(select(AccessToken))}
    assert timedelta(days=7) <= tokens["week"] - before < timedelta(days=7, minutes=1)
    assert tokens["forever"] is None
    assert tokens["dated"] == datetime(2999, 2, 1, tzinfo=timezone.utc)  # works through the 31st


def test_bad_token_input_is_shown_on_the_form(world):
    reader = world.browser("rita")
    response, match = create(reader, projects="not a name!")
    assert response.status_code == 400 and match is None
    assert "Invalid project restriction" in response.get_data(as_text=True)
    response, _ = create(reader, expires_on="2001-01-01")
    assert response.status_code == 400 and "in the past" in response.get_data(as_text=True)


def test_reader_cannot_create_upload_or_deploy_tokens(world):
    reader = world.browser("rita")
    response, match = create(reader, scope="upload")
    assert response.status_code == 403 and match is None
    assert "could never upload" in response.get_data(as_text=True)
    response, match = create(reader, owner="deploy")
    assert response.status_code == 403 and match is None


def test_member_tokens_belong_to_them_and_owners_make_deploy_tokens(world):
    create(world.browser("max"), name="max-token", scope="upload")
    create(world.browser("olivia"), name="ci", scope="upload", owner="deploy")
    with world.db.read() as session:
        owners = {t.name: t.user_id for t in session.scalars(select(AccessToken))}
    assert owners == {"max-token": world.users["max"].id, "ci": None}
    # Members see their own tokens; owners see all.
    own = world.browser("max").get("/acme/tokens").get_data(as_text=True)
    assert '<th scope="row">max-token <' in own and '<th scope="row">ci <' not in own
    everything = world.browser("olivia").get("/acme/tokens").get_data(as_text=True)
    assert '<th scope="row">max-token <' in everything and '<th scope="row">ci <' in everything
    assert "deploy token" in everything


def test_revoke(world):
    _, match = create(world.browser("max"), name="max-token")
    secret = match.group(1)
    with world.db.read() as session:
        token_id = session.scalar(select(AccessToken.id))
    assert world.browser("rita").post(f"/acme/tokens/{token_id}/revoke").status_code == 403
    assert world.browser("otto").post(f"/acme/tokens/{token_id}/revoke").status_code == 404
    maintainer = world.browser("max")
    assert maintainer.post(f"/acme/tokens/{token_id}/revoke").status_code == 302
    # Credentials verified a moment ago are cached for a few seconds: say so, not "now".
    assert "stops working within a few seconds" in maintainer.get("/acme/tokens").get_data(as_text=True)
    response = world.app.test_client().get("/acme/simple/", headers=basic(secret))
    assert response.status_code == 401
    assert "revoked" in world.browser("max").get("/acme/tokens").get_data(as_text=True)


def test_an_upload_token_page_shows_publish_snippets_and_is_never_cached(world):
    response, match = create(world.browser("max"), name="ci", scope="upload")
    assert response.status_code == 200 and match
    assert response.headers["Cache-Control"] == "no-store"
    secret, page = match.group(1), response.get_data(as_text=True)
    assert "Publish with it" in page
    legacy = "https://pkgs.example.com/acme/legacy/"
    assert snippet(page, "twine-env") == (
        f'export TWINE_REPOSITORY_URL={legacy}\nexport TWINE_USERNAME=__token__\n'
        f'export TWINE_PASSWORD="{secret}"\ntwine upload dist/*\n'
    )
    assert f"[acme]\nrepository = {legacy}\nusername = __token__\npassword = {secret}\n" in snippet(page, "pypirc")
    assert snippet(page, "uv-publish") == f'export UV_PUBLISH_TOKEN="{secret}"\nuv publish --publish-url {legacy} dist/*\n'
    assert snippet(page, "poetry-publish") == (
        f'poetry config repositories.acme {legacy}\npoetry config http-basic.acme __token__ "{secret}"\n'
        "poetry publish --build -r acme\n"
    )
    assert 'id="snippet-pip-cli"' in page  # upload tokens read too
