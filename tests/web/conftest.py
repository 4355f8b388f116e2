"""Fixtures for the web UI tests: Envelope's real app (create_app) on a
temporary SQLite database, driven by Flask's test client with CSRF on.

Forms are submitted the way a browser does: fetch the page, take its
csrf_token, post. Passwords are hashed with argon2id at a low cost so the
suite stays fast; everything else is the production code path.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from envelope import migrate
from envelope.accounts import passwords
from envelope.accounts.users import create_user
from envelope.config import Settings
from envelope.db import Database
from envelope.models import User
from tests.mailbox import delivered_mail
from web import create_app

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="[\w-]*csrf_token"[^>]*?value="([^"]+)"')
LINK = re.compile(r"https?://\S+")


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("envelope-dummy-password"))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-schema") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def make_settings(tmp_path: Path, migrated_sqlite: Path) -> Callable[..., Settings]:
    """Settings for a fresh instance; keyword arguments are extra environment variables."""

    def make(**env: str) -> Settings:
        data_dir = tmp_path / f"data-{len(list(tmp_path.iterdir()))}"
        data_dir.mkdir()
        shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
        return Settings.from_env({"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "k" * 40, **env})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["envelope"].db.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    return app.extensions["envelope"].db


class Browser:
    """One browser: a test client plus the steps a person takes."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def csrf_token(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        match = CSRF_INPUT.search(page.get_data(as_text=True))
        assert match, f"no csrf_token on {path}"
        return match.group(1)

    def submit(
        self, path: str, data: dict | None = None, *, form_page: str | None = None, prefix: str = "", **kwargs
    ):
        """POST `data` to `path` with the CSRF token from `form_page` (default: `path`);
        `prefix` is the form's field prefix ("disable-" for `disable-password`)."""
        token = self.csrf_token(form_page or path)
        fields = {f"{prefix}{name}": value for name, value in (data or {}).items()}
        return self.client.post(path, data={f"{prefix}csrf_token": token, **fields}, **kwargs)

    def login(self, login: str, password: str = PASSWORD, *, remember: bool = False, next: str | None = None):
        path = "/login" + (f"?next={next}" if next else "")
        data = {"login": login, "password": password}
        if remember:
            data["remember"] = "y"
        return self.submit(path, data)

    def logout(self):
        return self.submit("/logout", form_page="/")

    def signup(self, username: str, email: str, password: str = PASSWORD, *, query: str = ""):
        path = "/signup" + query
        data = {"username": username, "email": email, "password": password, "confirm": password}
        return self.submit(path, data)

    def is_signed_in(self) -> bool:
        return self.client.get("/account").status_code == 200


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def new_browser(app: Flask) -> Callable[..., Browser]:
    """Another browser; `environ_base` sets e.g. its REMOTE_ADDR or HTTP_USER_AGENT."""

    def make(environ_base: dict[str, str] | None = None) -> Browser:
        client = app.test_client()
        client.environ_base.update(environ_base or {})
        return Browser(client)

    return make


@pytest.fixture
def make_user(db: Database) -> Callable[..., User]:
    def make(username: str = "alice", *, email: str | None = None, password: str = PASSWORD, **kwargs) -> User:
        with db.write() as session:
            return create_user(
                session, username, email=email or f"{username}@example.com", password=password, actor="tests", **kwargs
            )

    return make


@pytest.fixture
def alice(make_user: Callable[..., User]) -> User:
    return make_user("alice")


@pytest.fixture
def mailbox(settings: Settings) -> Callable[[], list[EmailMessage]]:
    """The messages queued so far, sent by the worker's code and read back
    from ENVELOPE_DATA_DIR/mail/ (no SMTP host is set), oldest first."""

    def read() -> list[EmailMessage]:
        files = delivered_mail(settings)
        return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]

    return read


def link_in(message: EmailMessage) -> str:
    """The path of the one link in a message, ready for the test client."""
    links = LINK.findall(message.get_content())
    assert len(links) == 1, links
    parts = urlsplit(links[0])
    return parts.path + (f"?{parts.query}" if parts.query else "")
