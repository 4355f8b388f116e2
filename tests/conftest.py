"""Shared fixtures: throwaway PostgreSQL / Redis / S3 servers, real PyPI files, and Envelope servers.

Service fixtures are session-scoped and lazy: a server starts only when the
first test that needs it runs. A service that cannot start makes the tests
that need it ERROR (a failure), never skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import download_real_attestations, download_real_wheels
from tests.services import (
    REPO_ROOT,
    Backend,
    EnvelopeServer,
    MotoS3Server,
    PostgresServer,
    RedisServer,
    client_environ,
)

BACKENDS = ("sqlite-file", "postgres-s3")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster (or the server in TEST_DATABASE_URL); ``.create_database()`` per user."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3Server]:
    """moto's S3 server over HTTP; ``.create_bucket()`` per user."""
    server = MotoS3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server (or TEST_REDIS_URL). Tests that stop it must start it again."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def real_dists() -> list[Path]:
    """Real wheels and one sdist from PyPI, cached in REPO/.cache/pypi across runs."""
    return download_real_wheels(REPO_ROOT / ".cache" / "pypi")


@pytest.fixture(scope="session")
def real_attestations() -> dict[str, Path]:
    """A real PyPI file with its real PEP 740 publish attestation and PyPI's
    provenance for it, cached in REPO/.cache/pypi/attested across runs."""
    return download_real_attestations(REPO_ROOT / ".cache" / "pypi")


@pytest.fixture
def client_env() -> dict[str, str]:
    """Environment for pip/uv/twine subprocesses: no machine find-links or config, non-interactive.

    Pass ``--no-cache-dir`` to pip yourself; uv gets UV_NO_CACHE=1.
    """
    return client_environ()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def make_backend(name: str, request: pytest.FixtureRequest) -> Backend:
    """Build a Backend; "postgres-s3" gets a fresh database and bucket (starting those servers if needed)."""
    if name == "sqlite-file":
        return Backend(name)
    if name == "postgres-s3":
        pg: PostgresServer = request.getfixturevalue("postgres")
        s3: MotoS3Server = request.getfixturevalue("moto_s3")
        bucket = s3.create_bucket()
        return Backend(
            name,
            database_url=pg.create_database(),
            storage_url=f"s3://{bucket}/prefix",
            s3=s3,
            bucket=bucket,
        )
    raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn, fresh per test module: embedded SQLite + files, or PostgreSQL + S3."""
    return make_backend(request.param, request)


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Extra environment for the module's `server`; a module overrides this fixture to change settings."""
    return {}


@pytest.fixture(scope="module")
def server_args() -> list[str]:
    """Extra `envelope serve` options for the module's `server` (e.g. --workers 2)."""
    return []


@pytest.fixture(scope="module")
def server(
    backend: Backend,
    server_env: dict[str, str],
    server_args: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[EnvelopeServer]:
    """One running Envelope per (test module, backend). Tests must not rely on state left by others."""
    data_dir = tmp_path_factory.mktemp(f"envelope-{backend.name}-{_slug(request.module.__name__.rsplit('.', 1)[-1])}")
    srv = EnvelopeServer.for_backend(backend, data_dir, extra_env=server_env, serve_args=server_args)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


EnvelopeFactory = Callable[..., EnvelopeServer]


@pytest.fixture
def envelope_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[EnvelopeFactory]:
    """Factory for servers with custom settings, all stopped after the test.

    ``envelope_server(backend="sqlite-file" | "postgres-s3" | Backend | None, *, extra_env=..., start=True,
    database_url=..., storage_url=..., s3=..., port=...)``. Without a backend the
    embedded defaults are used; explicit URLs override the backend's.
    """
    started: list[EnvelopeServer] = []

    def factory(backend: str | Backend | None = None, *, start: bool = True, **kwargs: Any) -> EnvelopeServer:
        if isinstance(backend, str):
            backend = make_backend(backend, request)
        backend = backend or Backend("sqlite-file")
        data_dir = tmp_path_factory.mktemp(f"envelope-{backend.name}-{_slug(request.node.name)}")
        options: dict[str, Any] = {
            "database_url": backend.database_url,
            "storage_url": backend.storage_url,
            "s3": backend.s3,
        }
        options.update(kwargs)
        options["extra_env"] = {**backend.extra_env, **kwargs.get("extra_env", {})}
        srv = EnvelopeServer(data_dir, **options)
        started.append(srv)
        return srv.start() if start else srv

    try:
        yield factory
    finally:
        for srv in reversed(started):
            srv.stop()
