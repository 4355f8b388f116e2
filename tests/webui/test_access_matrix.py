"""The access matrix of docs/access.md, through HTTP, on SQLite and PostgreSQL.

Every kind of caller (a member's browser session or password, a member's
read or upload token, deploy tokens, a project-restricted token, revoked and
expired tokens) against every family of endpoints (index, files, upload,
JSON API, pages). The expected answers are written out here from the rules
in the issue, not computed from envelope.orgs.capabilities, so the table is
checked rather than restated:

- a token limited to projects sees nothing organization-wide by any URL;
- a deploy token (no user) is for the index and uploads only;
- a user-bound token never exceeds its user's role nor its own scope.
"""
from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from typing import Iterator

import pytest
from flask import Flask

from envelope import migrate
from envelope.accounts.users import create_user
from envelope.orgs.organizations import add_member, create_organization
from envelope.config import Settings
from envelope.models import Role
from envelope.models.base import utcnow
from envelope.accounts.sessions import start_session
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token, revoke_token
from tests.unit.archives import wheel_bytes
from tests.webui.conftest import SIMPLE_JSON
from web import create_app

API = "/api/v1/orgs/acme"
PASSWORD = "a long enough password"
_versions = itertools.count(10)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def matrix_app(request, tmp_path_factory) -> Iterator[Flask]:
    data_dir = tmp_path_factory.mktemp(f"matrix-{request.param}")
    env = {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
           "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "0"}
    if request.param == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres").create_database()
        migrate.upgrade(env["DATABASE_URL"])
    else:
        migrate.upgrade(f"sqlite:///{data_dir / 'envelope.db'}")
    app = create_app(Settings.from_env(env))
    db = app.extensions["envelope"].db
    with db.write() as session:
        acme = create_organization(session, "acme", actor="tests")
        for name, role in [("olivia", Role.owner), ("max", Role.maintainer), ("rita", Role.reader)]:
            user = create_user(session, name, email=f"{name}@example.com", password=PASSWORD, actor="tests")
            add_member(session, acme, user, role, actor="tests")
    app.config["acme_id"] = acme.id
    client = app.test_client()
    owner_token = _token(app, "olivia", "upload")
    for name, version in [("demo", "1.0"), ("demo", "2.0"), ("billing", "1.0")]:
        response = _upload(client, owner_token, name, version)
        assert response.status_code == 200, response.get_data(as_text=True)
    yield app
    db.dispose()


def _token(app: Flask, username: str | None, scope: str, **kwargs) -> str:
    from envelope.models import Membership, Organization, User
    from sqlalchemy import select

    db = app.extensions["envelope"].db
    with db.write() as session:
        org = session.get(Organization, app.config["acme_id"])
        user = session.scalar(select(User).where(User.username == username)) if username else None
        membership = session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                             Membership.organization_id == org.id)) if user else None
        role = membership.role if membership else None
        if scope == "upload" and role is Role.reader:
            # A reader's upload token exists only after a demotion: create_token refuses to make one.
            membership.role = Role.maintainer
        secret = create_token(session, operator_access(org, "tests"), name="m", scope=scope, user=user, **kwargs).secret
        if membership is not None:
            membership.role = role
        return secret


def _basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _upload(client, secret_or_headers, name: str, version: str):
    headers = secret_or_headers if isinstance(secret_or_headers, dict) else _basic("__token__", secret_or_headers)
    filename = f"{name}-{version}-py3-none-any.whl"
    return client.post("/acme/legacy/", headers=headers, data={
        ":action": "file_upload", "content": (__import__("io").BytesIO(wheel_bytes(name, version)), filename)})


ENDPOINTS = ["index list", "project page", "hidden project page", "file", "upload",
             "api audit", "api members", "api repositories", "api tokens", "api projects",
             "page audit", "page members", "page tokens", "page repositories", "page proxy"]
ORG_WIDE = ["api audit", "api members", "api repositories", "api tokens"]
PAGES = [e for e in ENDPOINTS if e.startswith("page ")]


def _expected(kind: str, role: Role | None) -> dict[str, int]:
    """The rules, written out per caller kind."""
    if kind in ("revoked", "expired"):
        return {e: 302 if e in PAGES else 401 for e in ENDPOINTS}
    if kind == "session":  # a signed-in browser: pages and API; the index wants Basic credentials
        answers = {e: 200 for e in ENDPOINTS}
        answers.update({"index list": 401, "project page": 401, "hidden project page": 401, "file": 401,
                        "upload": 401})
        return answers
    if kind == "password":  # Basic with the member's password: the index, as the role allows
        answers = {e: 200 for e in ["index list", "project page", "hidden project page", "file"]}
        answers["upload"] = 200 if role in (Role.owner, Role.maintainer) else 403
        answers.update({e: 401 for e in ENDPOINTS if e.startswith("api ")})  # the API takes tokens only
        answers.update({e: 302 for e in PAGES})
        return answers
    # Tokens: pages are for browsers (sign in); the index always; the rest as the rules say.
    answers = {e: 302 for e in PAGES}
    answers.update({"index list": 200, "project page": 200, "hidden project page": 200, "file": 200,
                    "api projects": 200})
    may_upload = kind in ("upload", "deploy upload") and role in (None, Role.owner, Role.maintainer)
    answers["upload"] = 200 if may_upload else 403
    organization_wide = 200 if kind in ("read", "upload") else 403  # never deploy nor restricted tokens
    answers.update({e: organization_wide for e in ORG_WIDE})
    answers["api tokens"] = 403  # tokens never manage tokens, not even their own
    if kind == "restricted read":
        answers["hidden project page"] = 404
        answers["upload"] = 403
    return answers


CASES = (
    [("session", r) for r in Role] + [("password", r) for r in Role]
    + [(k, r) for k in ("read", "upload", "restricted read") for r in Role]
    + [("deploy read", None), ("deploy upload", None), ("revoked", Role.owner), ("expired", Role.owner)]
)
USERS = {Role.owner: "olivia", Role.maintainer: "max", Role.reader: "rita"}


@pytest.mark.parametrize(("kind", "role"), CASES, ids=[f"{k}-{r.value if r else 'deploy'}" for k, r in CASES])
def test_access_matrix(matrix_app: Flask, kind: str, role: Role | None) -> None:
    client = matrix_app.test_client()
    username = USERS.get(role) if role else None
    headers: dict[str, str] = {}
    if kind == "session":
        from envelope.models import User
        from sqlalchemy import select

        with matrix_app.extensions["envelope"].db.write() as session:
            user = session.scalar(select(User).where(User.username == username))
            cookie_secret = start_session(session, user, remember=False, user_agent="tests", ip_address=None)
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = cookie_secret
            flask_session["_fresh"] = True
    elif kind == "password":
        headers = _basic(username, PASSWORD)
    else:
        scope = "upload" if "upload" in kind else "read"
        bound = None if kind.startswith("deploy") else username
        kwargs = {"projects": ["demo>=1,<2"]} if kind == "restricted read" else {}
        if kind == "expired":
            kwargs["expires"] = utcnow() - timedelta(seconds=1)
        secret = _token(matrix_app, bound, scope, **kwargs)
        if kind == "revoked":
            with matrix_app.extensions["envelope"].db.write() as session:
                from envelope.orgs.tokens import find_token
                revoke_token(session, find_token(session, secret).id, actor="tests")
        headers = _basic("__token__", secret)

    def get(url: str, accept: str | None = None) -> int:
        extra = {"Accept": accept} if accept else {}
        return client.get(url, headers={**headers, **extra}).status_code

    file_url = client.get("/acme/simple/demo/", headers={**_basic("olivia", PASSWORD), "Accept": SIMPLE_JSON}) \
        .get_json()["files"][0]["url"]
    answers = {
        "index list": get("/acme/simple/"),
        "project page": get("/acme/simple/demo/"),
        "hidden project page": get("/acme/simple/billing/"),
        "file": get("/acme/" + file_url.split("#")[0].removeprefix("../../")),
        "upload": _upload(client, headers, "demo", f"1.{next(_versions)}").status_code,
        "api audit": get(f"{API}/audit"),
        "api members": get(f"{API}/members"),
        "api repositories": get(f"{API}/repositories"),
        "api tokens": get(f"{API}/tokens"),
        "api projects": get(f"{API}/projects"),
        "page audit": get("/acme/audit"),
        "page members": get("/acme/members"),
        "page tokens": get("/acme/tokens"),
        "page repositories": get("/acme/repositories"),
        "page proxy": get("/acme/proxy"),
    }
    assert answers == _expected(kind, role)
