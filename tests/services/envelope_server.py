"""Envelope itself, run as `envelope serve` with a backend, and nginx in front of it."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from tests.services.commands import CommandFailed, client_environ, scrubbed_environ
from tests.services.process import (
    LIVE,
    LOOPBACK,
    REPO_ROOT,
    ServiceError,
    alive,
    descendants,
    free_port,
    open_log,
    rmtree,
    shutdown,
    stop_process_group,
    wait_for_http,
)
from tests.services.s3 import MotoS3Server


def envelope_executable() -> Path:
    """The ``envelope`` console script of the venv running the tests (else the repo's .venv)."""
    for candidate in (Path(sys.prefix) / "bin" / "envelope", REPO_ROOT / ".venv" / "bin" / "envelope"):
        if candidate.exists():
            return candidate
    raise ServiceError(
        "the `envelope` console script was not found in the test venv "
        f"({sys.prefix}/bin) nor in {REPO_ROOT}/.venv/bin; run `make dev-install`."
    )


@dataclass
class Backend:
    """Where an Envelope server keeps its data: embedded defaults or PostgreSQL + S3.

    ``database_url`` / ``storage_url`` of None mean "leave unset", i.e. the
    embedded SQLite database and file storage under ENVELOPE_DATA_DIR.
    """

    name: str
    database_url: str | None = None
    storage_url: str | None = None
    s3: MotoS3Server | None = None
    bucket: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        out: dict[str, str] = dict(self.extra_env)
        if self.database_url:
            out["DATABASE_URL"] = self.database_url
        if self.storage_url:
            out["ENVELOPE_STORAGE_URL"] = self.storage_url
        if self.s3 is not None:
            out.update(self.s3.env)
        return out


class EnvelopeServer:
    """The real ``envelope serve`` as a subprocess, in its own process group.

    ``serve`` starts Celery worker and beat as children; stopping the group
    stops them too. The environment is built from scratch for the Envelope
    variables so nothing from the caller's shell leaks in.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        storage_url: str | None = None,
        s3: MotoS3Server | None = None,
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
        host: str = LOOPBACK,
        startup_timeout: float = 60.0,
        serve_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.serve_args = list(serve_args)
        self.executable = envelope_executable()
        self.log_path = self.data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

        env = scrubbed_environ()
        env["ENVELOPE_DATA_DIR"] = str(self.data_dir)
        # A private HOME: nothing read from the developer's ~/.aws, ~/.config, and per-user
        # files (a server's control socket in ~) are not shared between parallel servers.
        home = self.data_dir / "home"
        home.mkdir(exist_ok=True)
        env["HOME"] = str(home)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if database_url:
            env["DATABASE_URL"] = database_url
        if storage_url:
            env["ENVELOPE_STORAGE_URL"] = storage_url
        if s3 is not None:
            env.update(s3.env)
        env.update(extra_env or {})
        self.env: dict[str, str] = env

    @classmethod
    def for_backend(cls, backend: Backend, data_dir: Path, **kwargs: Any) -> EnvelopeServer:
        """An EnvelopeServer configured for ``backend`` (kwargs' extra_env wins over the backend's)."""
        extra = {**backend.extra_env, **kwargs.pop("extra_env", {})}
        return cls(
            data_dir, database_url=backend.database_url, storage_url=backend.storage_url, s3=backend.s3,
            extra_env=extra, **kwargs,
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """PID of the `envelope serve` process (its children are web, worker, beat)."""
        assert self.process is not None, "server is not running"
        return self.process.pid

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for pip/uv/twine run against this server (see client_environ)."""
        return client_environ()

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def index_url(self, org: str, token: str | None = None) -> str:
        """``/{org}/simple/``, with ``__token__:TOKEN@`` credentials embedded when a token is given."""
        if token is None:
            return f"{self.base_url}/{org}/simple/"
        return f"http://__token__:{quote(token, safe='')}@{self.host}:{self.port}/{org}/simple/"

    def upload_url(self, org: str) -> str:
        return f"{self.base_url}/{org}/legacy/"

    def start(self) -> EnvelopeServer:
        """Start ``envelope serve`` and wait for ``GET /healthz`` to answer 200."""
        if self.process is not None and self.process.poll() is None:
            return self
        self._log = open_log(self.log_path)
        self.process = subprocess.Popen(
            [str(self.executable), "serve", "--host", self.host, "--port", str(self.port), *self.serve_args],
            cwd=self.data_dir, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        LIVE.add(self)
        try:
            wait_for_http(
                self.url("/healthz"), self.startup_timeout, process=self.process, log_path=self.log_path,
                what="envelope serve",
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM ``envelope serve``, SIGKILL its whole group after 10 s. The data dir is kept for post-mortems.

        The signal goes to ``serve`` alone: it stops the web server and Celery itself
        (a few seconds). Signalling the whole group at once, as a terminal's Ctrl-C
        does, also works but makes Celery respawn its pool and hang until killed.
        """
        LIVE.discard(self)
        stop_process_group(self.process, sig=signal.SIGTERM, grace=10, leader_only=True)
        self._closed()

    def kill(self) -> None:
        """SIGKILL `serve` and every process below it at once: a crash (power
        loss) rather than a shutdown. Its children live in sessions of their
        own, so the group alone would miss them; wait until all are gone so a
        restart finds the port free."""
        LIVE.discard(self)
        if self.process is not None:
            tree = [self.process.pid, *descendants(self.process.pid)]
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.wait(timeout=10)
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
                time.sleep(0.05)
        self._closed()

    def _closed(self) -> None:
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> EnvelopeServer:
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start()

    def __enter__(self) -> EnvelopeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def cli(
        self,
        *args: str,
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
        check: bool = True,
        timeout: float = 120,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``envelope *args`` against this server's configuration (text mode, output captured).

        With ``check``, a non-zero exit raises ``CommandFailed`` showing stdout and stderr.
        """
        run_env = {**self.env, **(env or {})}
        result = subprocess.run(
            [str(self.executable), *args], input=input, env=run_env, cwd=self.data_dir,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise CommandFailed(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def token(self, org: str, *args: str) -> str:
        """``envelope token create --org ORG *args`` and return the token (the last stdout line)."""
        result = self.cli("token", "create", "--org", org, *args)
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if not lines:
            raise CommandFailed(0, result.args, result.stdout, result.stderr)
        return lines[-1]


class NginxFront:
    """deploy/nginx/run.sh in front of an EnvelopeServer: the nginx-fronted
    deployment, with its page cache in a temporary directory."""

    def __init__(self, envelope: EnvelopeServer, *, freshness: str = "1s", s3: MotoS3Server | None = None) -> None:
        self.envelope = envelope
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="envelope-nginx-"))
        self.log_path = self.prefix / "run.log"
        self.env = {
            **os.environ,
            "ENVELOPE_WEB": f"{envelope.host}:{envelope.port}",
            "NGINX_LISTEN": f"{LOOPBACK}:{self.port}",
            "NGINX_PREFIX": str(self.prefix),
            "NGINX_FILES_DIR": str(envelope.data_dir / "files"),
            "NGINX_S3_ORIGIN": s3.endpoint_url if s3 else "http://127.0.0.1:9",
            "NGINX_PAGE_FRESHNESS": freshness,
            "NGINX_WORKERS": "1",
            "NGINX_USER": "root" if os.geteuid() == 0 else "nobody",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def cache_dir(self) -> Path:
        return self.prefix / "cache"

    def start(self) -> NginxFront:
        if shutil.which("nginx") is None:
            raise ServiceError("nginx is not installed: `make system-deps` installs nginx-light.")
        self._log = open_log(self.log_path)
        self.process = subprocess.Popen(
            ["sh", str(REPO_ROOT / "deploy" / "nginx" / "run.sh")], env=self.env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        LIVE.add(self)
        try:
            wait_for_http(self.base_url + "/healthz", 30, process=self.process, log_path=self.prefix / "error.log",
                          what="nginx")  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        shutdown(self, signal.SIGQUIT, grace=5)  # SIGQUIT: nginx's graceful stop
        rmtree(self.prefix)

    def __enter__(self) -> NginxFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- client environment


# Trust settings are kept: they decide how TLS is verified, not which packages are seen.
