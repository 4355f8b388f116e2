"""A request's Host header never makes a link: reset, sign-up and invitation
mail, webhook URLs and install snippets point at ENVELOPE_BASE_URL (here
unset, so the fixed default), whatever Host an attacker sends. With
ENVELOPE_TRUSTED_HOSTS, other hosts are refused outright."""
from __future__ import annotations

import shutil
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from envelope.config import DEFAULT_BASE_URL, Settings
from envelope.accounts.sessions import start_session
from tests.mailbox import delivered_mail
from tests.webui.conftest import Browser, World
from web import create_app

API = "/api/v1/orgs"
ATTACKER_URL = "http://attacker.example"


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    """No ENVELOPE_BASE_URL: the case where links used to come from the request."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    return Settings.from_env({"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
                              "ENVELOPE_AUTH_CACHE_SECONDS": "0"})


class AttackerClient(FlaskClient):
    """Every request (and so every cookie) is for Host: attacker.example."""

    def open(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("base_url", ATTACKER_URL)
        return super().open(*args, **kwargs)


def attacker_browser(world: World, username: str | None) -> Browser:
    client = AttackerClient(world.app, world.app.response_class, use_cookies=True)
    user = world.users[username] if username else None
    if user is not None:
        with world.db.write() as session:
            secret = start_session(session, user, remember=False, user_agent="tests", ip_address=None)
        with client.session_transaction(base_url=ATTACKER_URL) as flask_session:
            flask_session["_user_id"] = secret
            flask_session["_fresh"] = True
    return Browser(client, user)


def mail_bodies(settings: Settings) -> list[str]:
    return [message_from_bytes(path.read_bytes(), policy=policy.default).get_content()
            for path in delivered_mail(settings)]


def assert_links_are_ours(text: str, path: str) -> None:
    assert "attacker.example" not in text
    assert f"{DEFAULT_BASE_URL}{path}" in text


def test_password_reset_mail_ignores_the_host_header(world, settings):
    browser = attacker_browser(world, None)
    response = browser.post("/reset-password", {"email": "olivia@example.com"})
    assert response.status_code == 200
    (body,) = mail_bodies(settings)
    assert_links_are_ours(body, "/reset-password/")


def test_signup_mail_ignores_the_host_header(world, settings):
    browser = attacker_browser(world, None)
    for email in ("mallory@example.com", "olivia@example.com"):  # a new address; a registered one
        form = {"username": email.split("@")[0] + "2", "email": email, "password": "correct horse battery",
                "confirm": "correct horse battery"}
        response = browser.post("/signup", form)
        assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    # Mail files are named at random: tell the two messages apart by what they say.
    bodies = mail_bodies(settings)
    (confirm,) = [body for body in bodies if "/signup/confirm/" in body]
    (registered,) = [body for body in bodies if "already" in body]
    assert_links_are_ours(confirm, "/signup/confirm/")
    assert_links_are_ours(registered, "/reset-password")


def test_invitations_ignore_the_host_header(world, settings):
    owner = attacker_browser(world, "olivia")
    page = owner.post("/acme/invitations", {"email": "nina@example.com", "role": "reader"})
    assert page.status_code == 200
    assert_links_are_ours(page.get_data(as_text=True), "/invitations/")
    api = owner.client.post(f"{API}/acme/invitations", json={"email": "ivan@example.com", "role": "reader"},
                            headers={"X-CSRFToken": owner.csrf})
    assert api.status_code in (200, 201), api.get_data(as_text=True)
    assert_links_are_ours(api.get_data(as_text=True), "/invitations/")
    bodies = mail_bodies(settings)
    assert len(bodies) == 2
    for body in bodies:
        assert_links_are_ours(body, "/invitations/")


def test_pages_build_index_and_webhook_urls_from_the_base_url(world):
    owner = attacker_browser(world, "olivia")
    dashboard = owner.get("/acme/")
    assert dashboard.status_code == 200
    assert_links_are_ours(dashboard.get_data(as_text=True), "/acme/simple/")
    connected = owner.client.post("/api/v1/orgs/acme/repositories", json={"full_name": "acme/billing"},
                                  headers={"X-CSRFToken": owner.csrf})
    assert connected.status_code in (200, 201), connected.get_data(as_text=True)
    assert connected.get_json()["webhook_url"] == f"{DEFAULT_BASE_URL}/hooks/github"


def test_trusted_hosts_refuse_other_hosts(make_trusted_app):
    client = make_trusted_app("good.example, .corp.example").test_client()
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.post("/reset-password", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "good.example"}).status_code == 200
    assert client.get("/login", headers={"Host": "pypi.corp.example:8443"}).status_code == 200
    # The base URL's own host always works: the links in mail point there.
    assert client.get("/healthz", headers={"Host": "127.0.0.1:8080"}).status_code == 200


@pytest.fixture
def make_trusted_app(tmp_path: Path, migrated_sqlite: Path):
    apps = []

    def make(hosts: str):
        data_dir = tmp_path / "trusted"
        data_dir.mkdir()
        shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
        app = create_app(Settings.from_env({"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
                                            "ENVELOPE_TRUSTED_HOSTS": hosts}))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["envelope"].db.dispose()
