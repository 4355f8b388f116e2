"""The hourly poll (shortened to seconds) and a Redis outage, on the Redis broker."""
from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.integration.test_github_sync import (
    ORG,
    connect,
    deliver,
    release_with_wheels,
    runs,
    wait_for_files,
)
from tests.conftest import make_backend
from tests.fake_github import FakeGitHub
from tests.services import LOOPBACK, RedisServer, free_port

POLL_EVERY = 2  # seconds: ENVELOPE_POLL_INTERVAL for this module's server


@pytest.fixture(scope="module")
def backend(request):
    """Redis is the broker here, so PostgreSQL + S3 complete the production setup."""
    return make_backend("postgres-s3", request)


@pytest.fixture(scope="module")
def fake_github():
    with FakeGitHub() as fake:
        yield fake
        fake.assert_no_auth_leaks()


@pytest.fixture(scope="module")
def broker():
    """This module's own redis-server on its own port, never TEST_REDIS_URL's:
    the outage test stops it, which a shared or external server must not be."""
    server = RedisServer(port=free_port(), use_env=False).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def server_env(fake_github, broker) -> dict[str, str]:
    return {
        "ENVELOPE_GITHUB_API_URL": fake_github.api_url,
        "ENVELOPE_SYNC_FOLLOWUPS": "1,2",
        "ENVELOPE_RECONCILE_INTERVAL": "1",
        "ENVELOPE_POLL_INTERVAL": str(POLL_EVERY),
        "CELERY_BROKER_URL": broker.url,
    }


def assert_down(redis: RedisServer) -> None:
    assert not redis.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LOOPBACK, redis.port), timeout=5).close()


@pytest.fixture(scope="module")
def read_token(server) -> str:
    server.cli("org", "create", ORG)
    return server.token(ORG, "--scope", "read")


def test_beat_poll_finds_releases_without_a_webhook(server, read_token, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "polled")
    connect(server, repo.full_name)
    _, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "polled-lib", "1.0.0")
    wait_for_files(server, read_token, "polled-lib", len(dists))
    assert {r["trigger"] for r in runs(server, repo.full_name)} == {"poll"}
    # idle repository: the next polls are conditional and answered 304
    fake_github.clear_requests()
    time.sleep(POLL_EVERY * 2.5)
    polls = fake_github.matching("/releases?per_page=100", host="api")
    assert polls and all(r.header("If-None-Match") for r in polls)
    assert len({r["id"] for r in runs(server, repo.full_name)}) == 1  # nothing changed, nothing queued


def test_webhooks_accepted_while_redis_is_down(server, read_token, fake_github, broker, tmp_path) -> None:
    assert broker.url == server.env["CELERY_BROKER_URL"] and broker.restartable
    repo = fake_github.add_repo("acme", "outage")
    secret = connect(server, repo.full_name)
    releases = [
        release_with_wheels(fake_github, tmp_path / v, repo.full_name, "outage-lib", v)
        for v in ("1.0.0", "1.1.0", "1.2.0")
    ]
    broker.stop()
    try:
        assert_down(broker)
        for release, _ in releases:
            response = deliver(server, fake_github, repo.full_name, release, secret,
                               delivery=f"d-outage-{release['id']}")
            assert response.status_code == 202
        time.sleep(3)
        assert requests.get(server.url("/healthz"), timeout=10).status_code == 200
        assert_down(broker)  # still down: nothing could have been taken through it
        assert all(r["status"] == "queued" for r in runs(server, repo.full_name))
    finally:
        broker.start()
    wait_for_files(server, read_token, "outage-lib", sum(len(d) for _, d in releases), timeout=120)

