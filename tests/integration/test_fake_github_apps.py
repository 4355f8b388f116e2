"""The fake GitHub's App endpoints answer PyGithub's App auth as GitHub does:
the manifest conversion works once, JWTs are checked (RS256 against the App's
public key, iat/exp, issuer), installation tokens open the installation's
repositories and nothing else."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, GithubException, GithubIntegration

from tests.fake_github import FakeGitHub

MANIFEST = {
    "name": "Envelope test", "url": "https://pkgs.example.com",
    "hook_attributes": {"url": "http://127.0.0.1:9/hooks/github/app"},
    "redirect_url": "https://pkgs.example.com/admin/github-app/created",
    "setup_url": "https://pkgs.example.com/github-app/installed",
    "default_permissions": {"contents": "read", "metadata": "read"}, "default_events": ["release"],
}


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def created_app(fake: FakeGitHub) -> dict:
    back = requests.post(f"{fake.api_url}/settings/apps/new?state=s1", data={"manifest": json.dumps(MANIFEST)},
                         allow_redirects=False, timeout=10)
    assert back.status_code == 302
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    assert query["state"] == ["s1"]
    converted = requests.post(f"{fake.api_url}/app-manifests/{query['code'][0]}/conversions", timeout=10)
    assert converted.status_code == 201
    again = requests.post(f"{fake.api_url}/app-manifests/{query['code'][0]}/conversions", timeout=10)
    assert again.status_code == 404  # a code works once
    return converted.json()


def installed(fake: FakeGitHub, app: dict, repos: list[str]) -> int:
    fake.prepare_installation("acme-gh", repos)
    back = requests.get(f"{fake.api_url}/apps/{app['slug']}/installations/new?state=s2", allow_redirects=False,
                        timeout=10)
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    assert query["setup_action"] == ["install"] and query["state"] == ["s2"]
    return int(query["installation_id"][0])


def signed(app: dict, **claims) -> str:
    now = int(time.time())
    payload = {"iat": now - 60, "exp": now + 300, "iss": str(app["id"]), **claims}
    return jwt.encode(payload, app["pem"], algorithm="RS256")


def test_conversion_answers_the_app_with_its_secrets_once(fake):
    app = created_app(fake)
    assert {"id", "slug", "pem", "webhook_secret", "client_id", "client_secret", "owner"} <= set(app)
    assert app["permissions"] == {"contents": "read", "metadata": "read"} and app["events"] == ["release"]


def test_pygithub_app_auth_mints_installation_tokens_that_open_only_its_repositories(fake):
    app = created_app(fake)
    shown = fake.add_repo("acme-gh", "billing", private=True)
    hidden = fake.add_repo("acme-gh", "secret", private=True)
    installation_id = installed(fake, app, [shown.full_name])
    integration = GithubIntegration(auth=Auth.AppAuth(app["id"], app["pem"]), base_url=fake.api_url)
    try:
        assert integration.get_app_installation(installation_id).id == installation_id
        token = integration.get_access_token(installation_id).token
    finally:
        integration.close()
    headers = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{fake.api_url}/installation/repositories", headers=headers, timeout=10).json()
    assert [r["full_name"] for r in listed["repositories"]] == [shown.full_name]
    assert requests.get(f"{fake.api_url}/repos/{shown.full_name}", headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{fake.api_url}/repos/{hidden.full_name}", headers=headers, timeout=10).status_code == 404
    fake.expire_installation_tokens()
    assert requests.get(f"{fake.api_url}/repos/{shown.full_name}", headers=headers, timeout=10).status_code == 401


@pytest.mark.parametrize("case", ["other key", "expired", "too long", "future iat", "wrong issuer", "none"])
def test_bad_jwts_are_refused(fake, case):
    app = created_app(fake)
    now = int(time.time())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    token = {
        "other key": jwt.encode({"iat": now - 60, "exp": now + 300, "iss": str(app["id"])}, other, algorithm="RS256"),
        "expired": signed(app, iat=now - 700, exp=now - 100),
        "too long": signed(app, iat=now - 60, exp=now + 3600),
        "future iat": signed(app, iat=now + 600, exp=now + 900),
        "wrong issuer": signed(app, iss="12345"),
        "none": jwt.encode({"iat": now, "exp": now + 60, "iss": str(app["id"])}, None, algorithm="none"),
    }[case]
    answer = requests.get(f"{fake.api_url}/app", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401, answer.text
    good = requests.get(f"{fake.api_url}/app", headers={"Authorization": f"Bearer {signed(app)}"}, timeout=10)
    assert good.status_code == 200 and good.json()["id"] == app["id"]


def test_suspended_installation_gets_no_token(fake):
    app = created_app(fake)
    repo = fake.add_repo("acme-gh", "billing")
    installation_id = installed(fake, app, [repo.full_name])
    fake.suspend(installation_id)  # its webhook goes nowhere here: recorded as not delivered
    assert fake.app_deliveries()[-1] == ("installation", "suspend", 0)
    integration = GithubIntegration(auth=Auth.AppAuth(app["id"], app["pem"]), base_url=fake.api_url)
    try:
        with pytest.raises(GithubException) as refused:
            integration.get_access_token(installation_id)
    finally:
        integration.close()
    assert refused.value.status == 403
