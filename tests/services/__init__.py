"""Throwaway servers for the test suite: PostgreSQL, Redis, an S3 server (moto) and Envelope itself.

Plain classes with no pytest dependency, so they can also be used from a REPL or a
benchmark script. Every server binds a free loopback port, keeps its files in a
temporary directory, runs in its own process group (so stopping it also stops
its children) and is stopped at interpreter exit if nobody stopped it before.

A service that cannot start raises ``ServiceError`` with the tail of its log:
the suite must fail loudly, never skip, when a dependency is missing.
"""

from __future__ import annotations

from tests.services.commands import CommandFailed, client_environ, run_checked, scrubbed_environ
from tests.services.envelope_server import Backend, EnvelopeServer, NginxFront, envelope_executable
from tests.services.postgres import PostgresServer
from tests.services.process import (
    LOOPBACK,
    REPO_ROOT,
    ServiceError,
    descendants,
    free_port,
    stop_process_group,
    tail,
    wait_for_http,
    wait_for_port,
)
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3_DUMMY_ENV, MotoS3Server

__all__ = [
    "LOOPBACK",
    "descendants",
    "Backend",
    "CommandFailed",
    "EnvelopeServer",
    "MotoS3Server",
    "NginxFront",
    "PostgresServer",
    "REPO_ROOT",
    "RedisServer",
    "S3_DUMMY_ENV",
    "ServiceError",
    "client_environ",
    "envelope_executable",
    "free_port",
    "run_checked",
    "scrubbed_environ",
    "stop_process_group",
    "tail",
    "wait_for_http",
    "wait_for_port",
]
