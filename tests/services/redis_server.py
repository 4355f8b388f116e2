"""A throwaway redis-server (or TEST_REDIS_URL)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from tests.services.process import LIVE, LOOPBACK, ServiceError, free_port, open_log, rmtree, stop_process_group, tail


class RedisServer:
    """A throwaway redis-server without persistence, or the one named by TEST_REDIS_URL.

    ``stop()`` then ``start()`` restarts it on the same port with empty data, so
    tests can simulate a broker outage. That is impossible with an external
    server; ``restartable`` tells which mode we are in.
    """

    def __init__(self, external_url: str | None = None, *, use_env: bool = True, port: int | None = None) -> None:
        if external_url is None and use_env:
            external_url = os.environ.get("TEST_REDIS_URL") or None
        self.external_url = external_url
        self.port = port
        self.tmpdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def restartable(self) -> bool:
        return self.external_url is None

    @property
    def url(self) -> str:
        if self.external_url:
            return self.external_url
        assert self.port is not None, "server never started"
        return f"redis://{LOOPBACK}:{self.port}/0"

    def db_url(self, number: int) -> str:
        """The URL of database `number` on this server."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{number}"))

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        """Start (or restart, on the same port) and wait until it answers PING."""
        if self.external_url:
            parts = urlsplit(self.external_url)
            self._wait_pong(parts.hostname or LOOPBACK, parts.port or 6379, timeout=10, password=parts.password)
            LIVE.add(self)
            return self
        if self.running:
            return self
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.access(server, os.X_OK):
            raise ServiceError(
                "redis-server was not found on PATH. Install it (`make system-deps`) or set TEST_REDIS_URL."
            )
        if self.tmpdir is None:
            self.tmpdir = Path(tempfile.mkdtemp(prefix="envelope-redis-"))
            self.log_path = self.tmpdir / "redis.log"
        if self.port is None:
            self.port = free_port()
        self._log = open_log(self.log_path)  # type: ignore[arg-type]
        argv = [server, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                "--dir", str(self.tmpdir), "--daemonize", "no", "--logfile", ""]  # fmt: skip
        self.process = subprocess.Popen(
            argv, cwd=self.tmpdir, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        LIVE.add(self)
        try:
            self._wait_pong(LOOPBACK, self.port, timeout=15)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_pong(self, host: str, port: int, timeout: float, password: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(
                    f"redis-server exited with code {self.process.returncode} during startup.\n"
                    f"--- log tail ---\n{tail(self.log_path)}"
                )
            try:
                with socket.create_connection((host, port), timeout=1) as sock:
                    if password:
                        sock.sendall(f"AUTH {password}\r\n".encode())
                        sock.recv(64)
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(64)
                if reply.startswith(b"+PONG"):
                    return
                last = reply.decode(errors="replace").strip()
            except OSError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"Redis at {host}:{port} did not answer PING within {timeout:.0f}s (last: {last}).\n"
                    f"--- log tail ---\n{tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server but keep port and temp dir so ``start()`` can bring it back."""
        if self.external_url:
            LIVE.discard(self)
            return
        stop_process_group(self.process, sig=signal.SIGTERM, grace=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop for good and delete the temp dir."""
        self.stop()
        LIVE.discard(self)
        rmtree(self.tmpdir)
        self.tmpdir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- S3 (moto)
