"""Fixtures for the organization pages and the JSON API: the real app
(create_app) on a temporary SQLite database, driven by Flask's test client
with CSRF on.

People sign in the way Flask-Login sees it after /login: a server-side
session row (envelope.accounts.sessions.start_session) whose secret is the login
cookie's user id. Forms are posted with the csrf_token their page carries.
"""
from __future__ import annotations

import base64
import html
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from envelope import migrate
from envelope.orgs.identity import operator
from envelope.accounts.users import create_user
from envelope.orgs.organizations import add_member, create_organization
from envelope.config import Settings
from envelope.db import Database
from envelope.models import FileSource, Organization, Role, User
from envelope.packaging.publish import publish_file
from envelope.accounts.sessions import start_session
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token
from tests.unit.archives import core_metadata, wheel_bytes, wheel_members, zip_bytes
from web import create_app

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("webui-schema") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    return Settings.from_env(
        {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
         "ENVELOPE_BASE_URL": "https://pkgs.example.com",
         # Revocations must show at once in these tests, not after the auth cache's few seconds.
         "ENVELOPE_AUTH_CACHE_SECONDS": "0"}
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["envelope"].db.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    return app.extensions["envelope"].db


def snippet(page: str, key: str) -> str:
    """The text of the copyable snippet `key` on a page, unescaped: what a reader copies."""
    match = re.search(rf'<pre id="snippet-{re.escape(key)}"[^>]*>(.*?)</pre>', page, re.S)
    assert match, f"no snippet {key!r} on the page"
    return html.unescape(match.group(1))


def basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"__token__:{secret}".encode()).decode()}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Browser:
    """A signed-in browser: posts forms with their CSRF token, calls the API
    with the X-CSRFToken header, as the pages' scripts would."""

    def __init__(self, client: FlaskClient, user: User | None) -> None:
        self.client = client
        self.user = user
        self._csrf: str | None = None

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            page = self.client.get("/orgs/new" if self.user else "/login").get_data(as_text=True)
            match = CSRF_INPUT.search(page)
            assert match, "no csrf_token on the page"
            self._csrf = match.group(1)
        return self._csrf

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(url, data=form, **kwargs)

    def api(self, method: str, url: str, json: Any = None, *, csrf: bool = True, **kwargs) -> TestResponse:
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.open(url, method=method, json=json, headers=headers, **kwargs)


@dataclass
class World:
    """acme with an owner, a maintainer and a reader; `otto` belongs only to `other`."""

    app: Flask
    db: Database
    acme: Organization
    other: Organization
    users: dict[str, User]

    def browser(self, username: str | None) -> Browser:
        client = self.app.test_client()
        user = self.users[username] if username else None
        if user is not None:
            with self.db.write() as session:
                secret = start_session(session, user, remember=False, user_agent="tests", ip_address=None)
            with client.session_transaction() as flask_session:
                flask_session["_user_id"] = secret
                flask_session["_fresh"] = True
        return Browser(client, user)

    def publish(self, filename: str, data: bytes, org: Organization | None = None,
                source: FileSource = FileSource.upload):
        runtime = self.app.extensions["envelope"]
        org = org or self.acme
        return publish_file(
            runtime.db, runtime.storage, organization=org, principal=operator(org, "tests"),
            filename=filename, stream=io.BytesIO(data), source=source,
            spool_dir=runtime.settings.tmp_dir, max_size=10 * 1024**2,
        ).file

    def wheel(self, name: str, version: str, tags: str = "py3-none-any", *, readme: str = "",
              content_type: str | None = None, org: Organization | None = None):
        metadata = core_metadata(name, version, summary=f"{name} summary", body=readme)
        if content_type:
            metadata = metadata.replace(
                b"Summary:", f"Description-Content-Type: {content_type}\nSummary:".encode(), 1
            )
        data = zip_bytes(wheel_members(name, version, metadata=metadata))
        return self.publish(f"{name.replace('-', '_')}-{version}-{tags}.whl", data, org)

    def token(self, org: Organization | None = None, **kwargs: Any) -> str:
        with self.db.write() as session:
            access = operator_access(org or self.acme, "tests")
            return create_token(session, access, name=kwargs.pop("name", "t"), **kwargs).secret


@pytest.fixture
def world(app: Flask, db: Database) -> World:
    with db.write() as session:
        acme = create_organization(session, "acme", actor="tests")
        other = create_organization(session, "other", actor="tests")
        users = {}
        for username, org, role in [
            ("olivia", acme, Role.owner),
            ("max", acme, Role.maintainer),
            ("rita", acme, Role.reader),
            ("otto", other, Role.owner),
        ]:
            users[username] = create_user(session, username, email=f"{username}@example.com", actor="tests")
            add_member(session, org, users[username], role, actor="tests")
        users["nina"] = create_user(session, "nina", email="nina@example.com", actor="tests")
    return World(app, db, acme, other, users)


__all__ = ["SIMPLE_JSON", "Browser", "World", "basic", "bearer", "snippet", "wheel_bytes"]
