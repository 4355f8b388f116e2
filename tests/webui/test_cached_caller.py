"""The auth cache holds values, not rows (issue 9, item 5).

It used to hold a detached Organization whose serial was the one of the
moment the credential was verified; the /simple/ page could then report a
`_last-serial` one behind for as long as the page stayed cached.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envelope.config import Settings
from tests.webui.conftest import SIMPLE_JSON, basic


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    return Settings.from_env(
        {"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
         "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "3600"}
    )


@pytest.fixture
def client(app):
    return app.test_client()


def _list(client, secret: str) -> dict:
    response = client.get("/acme/simple/", headers={**basic(secret), "Accept": SIMPLE_JSON})
    assert response.status_code == 200
    return response.get_json()


def test_last_serial_is_current_after_a_publish_with_a_cached_credential(world, client) -> None:
    world.wheel("demo", "1.0")
    secret = world.token(scope="read")
    before = _list(client, secret)  # the credential is now cached
    world.wheel("second", "1.0")  # a new project: the organization's serial moves
    with world.db.read() as session:
        from envelope.models import Organization

        serial = session.get(Organization, world.acme.id).serial
    after = _list(client, secret)
    assert [p["name"] for p in after["projects"]] == ["demo", "second"]
    assert after["meta"]["_last-serial"] == serial > before["meta"]["_last-serial"]


def test_a_revoked_token_is_refused_at_once_despite_the_cache(world, client) -> None:
    from envelope.orgs.tokens import find_token, revoke_token

    world.wheel("demo", "1.0")
    secret = world.token(scope="read")
    assert _list(client, secret)["projects"]
    with world.db.write() as session:
        revoke_token(session, find_token(session, secret).id, actor="tests")
    assert client.get("/acme/simple/", headers=basic(secret)).status_code == 401
    assert client.get("/acme/simple/demo/", headers=basic(secret)).status_code == 401
