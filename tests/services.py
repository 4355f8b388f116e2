"""Throwaway servers for the test suite: PostgreSQL, Redis, an S3 server (moto) and Envelope itself.

Plain classes with no pytest dependency, so they can also be used from a REPL or a
benchmark script. Every server binds a free loopback port, keeps its files in a
temporary directory, runs in its own process group (so stopping it also stops
its children) and is stopped at interpreter exit if nobody stopped it before.

A service that cannot start raises ``ServiceError`` with the tail of its log:
the suite must fail loudly, never skip, when a dependency is missing.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent

LOOPBACK = "127.0.0.1"

# Dummy credentials for moto: boto3 refuses to sign requests without some.
S3_DUMMY_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class ServiceError(RuntimeError):
    """A throwaway server could not be started or reached (the message says why)."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Ask the kernel for a currently free loopback TCP port.

    There is a small race between closing this socket and the server binding the
    port; callers start their server immediately, and all servers fail loudly
    (not silently on another port) if the port was taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path | str | None, lines: int = 40) -> str:
    """Last lines of a log file, for error messages (empty string if unreadable)."""
    if path is None:
        return ""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    """urllib opener that ignores *_proxy variables: we only ever talk to loopback."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for_http(
    url: str,
    timeout: float = 30.0,
    *,
    status: int = 200,
    process: subprocess.Popen[Any] | None = None,
    log_path: Path | str | None = None,
    what: str | None = None,
) -> None:
    """Poll ``GET url`` until it answers ``status``.

    Fails fast when ``process`` exits, and on timeout raises ``ServiceError``
    with the last answer seen and the tail of ``log_path``.
    """
    opener = _no_proxy_opener()
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    name = what or url
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"{name} exited with code {process.returncode} before {url} answered {status}.\n"
                f"--- log tail ---\n{tail(log_path)}"
            )
        try:
            with opener.open(url, timeout=2) as response:
                response.read()
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
            exc.close()
        except (OSError, urllib.error.URLError) as exc:
            code = None
            last = f"{type(exc).__name__}: {exc}"
        if code == status:
            return
        if code is not None:
            last = f"HTTP {code}"
        if time.monotonic() > deadline:
            raise ServiceError(
                f"{name}: GET {url} did not answer {status} within {timeout:.0f}s (last: {last}).\n"
                f"--- log tail ---\n{tail(log_path)}"
            )
        time.sleep(0.1)


def wait_for_port(
    port: int,
    timeout: float,
    *,
    host: str = LOOPBACK,
    process: subprocess.Popen[Any] | None = None,
    log_path: Path | str | None = None,
    what: str = "server",
) -> None:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"{what} exited with code {process.returncode} before listening on {host}:{port}.\n"
                f"--- log tail ---\n{tail(log_path)}"
            )
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{what} is not listening on {host}:{port} after {timeout:.0f}s ({exc}).\n"
                    f"--- log tail ---\n{tail(log_path)}"
                ) from None
        time.sleep(0.05)


def stop_process_group(
    process: subprocess.Popen[Any] | None,
    *,
    sig: int = signal.SIGTERM,
    grace: float = 10.0,
    leader_only: bool = False,
) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its group.

    Sends ``sig`` to the group (or only to the leader with ``leader_only``, for
    supervisors that stop their own children in order), waits up to ``grace``
    seconds for the leader, then SIGKILLs the group so no straggler survives.
    """
    if process is None:
        return
    pgid = process.pid  # session leader: its pid is the group id
    try:
        if leader_only:
            process.send_signal(sig)
        else:
            os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)  # stragglers in the group, or a hung leader
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def descendants(root: int) -> list[int]:
    """Every process below `root`, read from /proc (children first found, then theirs)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return found


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_LIVE: set[Any] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Last resort: never leave servers running after the interpreter exits."""
    for service in list(_LIVE):
        try:
            service.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _shutdown(service: Any, sig: int, *, grace: float) -> None:
    """Stop a service's process group and close its log (`process`, `_log`)."""
    _LIVE.discard(service)
    stop_process_group(service.process, sig=sig, grace=grace)
    service.process = None
    if service._log is not None:
        service._log.close()
        service._log = None


def _open_log(path: Path) -> IO[bytes]:
    return open(path, "ab")  # noqa: SIM115 - closed in stop()


def _rmtree(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- PostgreSQL


def find_postgres_bindir() -> Path:
    """Directory with initdb/postgres: newest /usr/lib/postgresql/*/bin, else PATH."""

    def version_key(path: str) -> tuple[int, ...]:
        numbers = re.findall(r"\d+", Path(path).parent.name)
        return tuple(int(n) for n in numbers)

    candidates = sorted(
        (d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.access(Path(d, "initdb"), os.X_OK)),
        key=version_key,
        reverse=True,
    )
    if candidates:
        return Path(candidates[0])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError(
        "PostgreSQL server binaries (initdb, postgres) were not found under "
        "/usr/lib/postgresql/*/bin or on PATH. Install them (`make system-deps`) "
        "or set TEST_DATABASE_URL=postgresql+psycopg://USER@HOST:PORT/DB to use an existing server."
    )


@dataclass(frozen=True)
class _PgTarget:
    """Where to connect as an administrator, and how to spell URLs for new databases."""

    host: str
    port: int
    user: str
    password: str | None
    admin_db: str
    query: str = ""

    def conninfo(self, dbname: str | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": dbname or self.admin_db,
            "connect_timeout": 3,
        }
        if self.password is not None:
            info["password"] = self.password
        return info

    def url(self, dbname: str) -> str:
        auth = quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = f"?{self.query}" if self.query else ""
        return f"postgresql+psycopg://{auth}@{host}:{self.port}/{quote(dbname, safe='')}{suffix}"


_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresServer:
    """A throwaway PostgreSQL cluster, or an existing server named by TEST_DATABASE_URL.

    Local mode: ``initdb`` (trust auth, UTF8, C locale, no fsync) into a temp dir
    owned by the ``postgres`` OS user when we are root (PostgreSQL refuses to run
    as root), then ``postgres -h 127.0.0.1 -p PORT -k SOCKDIR`` with durability
    switched off for speed.

    External mode: nothing is started; databases are created on that server
    (with unique names) and dropped again by ``stop()``.
    """

    def __init__(self, external_url: str | None = None, *, use_env: bool = True) -> None:
        if external_url is None and use_env:
            external_url = os.environ.get("TEST_DATABASE_URL") or None
        self.external_url = external_url
        self.tmpdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None
        self._created: list[str] = []
        self._target: _PgTarget | None = None
        self.startup_seconds: float = 0.0

    # -- lifecycle

    def start(self) -> PostgresServer:
        """Start the cluster (or check the external server) and wait until it accepts connections."""
        started = time.monotonic()
        if self.external_url:
            self._target = self._parse_external(self.external_url)
            self._wait_ready(timeout=15)
        else:
            self._start_local()
        self.startup_seconds = time.monotonic() - started
        _LIVE.add(self)
        return self

    def _parse_external(self, url: str) -> _PgTarget:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgresql"):
            raise ServiceError(f"TEST_DATABASE_URL must be a postgresql+psycopg:// URL, got {url!r}")
        return _PgTarget(
            host=parts.hostname or LOOPBACK,
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password is not None else None,
            admin_db=unquote(parts.path.lstrip("/")) or "postgres",
            query=parts.query,
        )

    def _start_local(self) -> None:
        bindir = find_postgres_bindir()
        as_root = os.geteuid() == 0
        run_as: dict[str, Any] = {}
        if as_root:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError(
                    "running as root but there is no `postgres` OS user to run PostgreSQL as "
                    "(PostgreSQL refuses to run as root). Install the postgresql package or set TEST_DATABASE_URL."
                ) from None
            run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

        self.tmpdir = Path(tempfile.mkdtemp(prefix="envelope-pg-"))
        data = self.tmpdir / "data"
        sockdir = self.tmpdir / "sock"
        sockdir.mkdir()
        if as_root:
            for path in (self.tmpdir, sockdir):
                os.chown(path, run_as["user"], run_as["group"])
        self.log_path = self.tmpdir / "postgres.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")

        initdb = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=self.tmpdir, env=env, capture_output=True, text=True, check=False, **run_as,
        )  # fmt: skip
        if initdb.returncode != 0:
            self.stop()
            raise ServiceError(
                f"initdb failed with code {initdb.returncode}:\n{initdb.stdout}\n{initdb.stderr}"
            )

        self.port = free_port()
        self._target = _PgTarget(host=LOOPBACK, port=self.port, user="postgres", password=None, admin_db="postgres")
        self._log = _open_log(self.log_path)
        settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "max_wal_size": "1GB",
            "checkpoint_timeout": "30min",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "lc_messages": "C",
            "timezone": "UTC",
        }
        argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(sockdir),
                "-h", LOOPBACK, "-F"]  # fmt: skip
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self.process = subprocess.Popen(
            argv, cwd=self.tmpdir, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True, **run_as,
        )  # fmt: skip
        try:
            self._wait_ready(timeout=30)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        assert self._target is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(
                    f"postgres exited with code {self.process.returncode} during startup.\n"
                    f"--- log tail ---\n{tail(self.log_path)}"
                )
            try:
                with psycopg.connect(**self._target.conninfo(), autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    where = f"{self._target.host}:{self._target.port}"
                    raise ServiceError(
                        f"PostgreSQL at {where} did not accept connections within {timeout:.0f}s: {exc}\n"
                        f"--- log tail ---\n{tail(self.log_path)}"
                    ) from None
            time.sleep(0.1)

    def stop(self) -> None:
        """Drop databases we made on an external server; otherwise shut the cluster down and delete it."""
        _LIVE.discard(self)
        if self.external_url and self._target is not None and self._created:
            import psycopg
            from psycopg import sql

            try:
                with psycopg.connect(**self._target.conninfo(), autocommit=True) as conn:
                    for name in self._created:
                        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            except psycopg.Error:
                pass  # best effort: the names are unique, leftovers harm nobody
            self._created.clear()
        # SIGINT is PostgreSQL's "fast shutdown": no waiting for clients.
        stop_process_group(self.process, sig=signal.SIGINT, grace=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        _rmtree(self.tmpdir)
        self.tmpdir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- use

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the maintenance database (``postgres``)."""
        assert self._target is not None, "server not started"
        return self._target.url(self._target.admin_db)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its ``postgresql+psycopg://`` URL.

        Without a name, a unique one is generated (always so on an external
        server, where a fixed name could collide with other runs).
        """
        import psycopg
        from psycopg import sql

        assert self._target is not None, "server not started"
        if name is None:
            name = f"envelope_test_{secrets.token_hex(4)}"
        elif self.external_url:
            name = f"{name}_{secrets.token_hex(4)}"
        if not _DB_NAME.match(name):
            raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
        with psycopg.connect(**self._target.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))
        self._created.append(name)
        return self._target.url(name)


# --------------------------------------------------------------------------- Redis


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
            _LIVE.add(self)
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
        self._log = _open_log(self.log_path)  # type: ignore[arg-type]
        argv = [server, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                "--dir", str(self.tmpdir), "--daemonize", "no", "--logfile", ""]  # fmt: skip
        self.process = subprocess.Popen(
            argv, cwd=self.tmpdir, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _LIVE.add(self)
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
            _LIVE.discard(self)
            return
        stop_process_group(self.process, sig=signal.SIGTERM, grace=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop for good and delete the temp dir."""
        self.stop()
        _LIVE.discard(self)
        _rmtree(self.tmpdir)
        self.tmpdir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- S3 (moto)


class MotoS3Server:
    """moto's standalone server, a real HTTP S3 endpoint on a loopback port.

    Run as a subprocess (not moto's in-process mocks) so the Envelope server
    subprocesses reach it over HTTP exactly as they would reach S3 or MinIO.
    """

    def __init__(self) -> None:
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Variables that point boto3 (in any subprocess) at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, **S3_DUMMY_ENV}

    def start(self) -> MotoS3Server:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="envelope-moto-"))
        self.log_path = self.tmpdir / "moto.log"
        self.port = free_port()
        self._log = _open_log(self.log_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(S3_DUMMY_ENV)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            cwd=self.tmpdir, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _LIVE.add(self)
        try:
            wait_for_http(
                f"{self.endpoint_url}/moto-api/", 30, process=self.process, log_path=self.log_path, what="moto S3 server"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _shutdown(self, signal.SIGTERM, grace=5)
        _rmtree(self.tmpdir)
        self.tmpdir = None

    def __enter__(self) -> MotoS3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> Any:
        """A boto3 S3 client for this server (call ``.close()`` when done)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=S3_DUMMY_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_DUMMY_ENV["AWS_DEFAULT_REGION"],
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name when none is given) and return its name."""
        name = name or f"envelope-test-{secrets.token_hex(4)}"
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        finally:
            client.close()
        return name

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """All object keys under a prefix: lets tests check what storage really holds."""
        client = self.client()
        try:
            keys: list[str] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [obj["Key"] for obj in page.get("Contents", [])]
            return keys
        finally:
            client.close()


# --------------------------------------------------------------------------- Envelope


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


class CommandFailed(subprocess.CalledProcessError):
    """CalledProcessError whose message includes stdout and stderr, so test failures explain themselves."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()}\n--- stdout ---\n{self.stdout or ''}\n--- stderr ---\n{self.stderr or ''}"
        )


# Inherited variables that would point a server under test at someone else's data.
_SCRUBBED_PREFIXES = ("ENVELOPE_", "AWS_", "CELERY_", "PIP_", "UV_", "TWINE_")
_SCRUBBED_NAMES = {"DATABASE_URL", "REDIS_URL", "FLASK_APP", "FLASK_DEBUG", "FLASK_ENV"}


def scrubbed_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ minus anything that configures Envelope, AWS, Celery, pip, uv or twine."""
    source = os.environ if base is None else base
    return {
        k: v
        for k, v in source.items()
        if k not in _SCRUBBED_NAMES and not k.startswith(_SCRUBBED_PREFIXES)
    }


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
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.executable = envelope_executable()
        self.log_path = self.data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

        env = scrubbed_environ()
        env["ENVELOPE_DATA_DIR"] = str(self.data_dir)
        # A private HOME: nothing read from the developer's ~/.aws, ~/.config, and per-user
        # files (gunicorn's ~/.gunicorn control socket) are not shared between parallel servers.
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
        self._log = _open_log(self.log_path)
        self.process = subprocess.Popen(
            [str(self.executable), "serve", "--host", self.host, "--port", str(self.port)],
            cwd=self.data_dir, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _LIVE.add(self)
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

        The signal goes to ``serve`` alone: it stops gunicorn and Celery itself
        (a few seconds). Signalling the whole group at once, as a terminal's Ctrl-C
        does, also works but makes Celery respawn its pool and hang until killed.
        """
        _LIVE.discard(self)
        stop_process_group(self.process, sig=signal.SIGTERM, grace=10, leader_only=True)
        self._closed()

    def kill(self) -> None:
        """SIGKILL `serve` and every process below it at once: a crash (power
        loss) rather than a shutdown. Its children live in sessions of their
        own, so the group alone would miss them; wait until all are gone so a
        restart finds the port free."""
        _LIVE.discard(self)
        if self.process is not None:
            tree = [self.process.pid, *descendants(self.process.pid)]
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.wait(timeout=10)
            deadline = time.monotonic() + 10
            while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
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
        self._log = _open_log(self.log_path)
        self.process = subprocess.Popen(
            ["sh", str(REPO_ROOT / "deploy" / "nginx" / "run.sh")], env=self.env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _LIVE.add(self)
        try:
            wait_for_http(self.base_url + "/healthz", 30, process=self.process, log_path=self.prefix / "error.log",
                          what="nginx")  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _shutdown(self, signal.SIGQUIT, grace=5)  # SIGQUIT: nginx's graceful stop
        _rmtree(self.prefix)

    def __enter__(self) -> NginxFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- client environment


# Trust settings are kept: they decide how TLS is verified, not which packages are seen.
_KEPT_PIP_VARS = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT"}


def client_environ(base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for pip / uv / twine subprocesses that sees only the index we point them at.

    Drops the machine's PIP_FIND_LINKS and every other PIP_*/UV_*/TWINE_* setting,
    disables config files, and makes every tool non-interactive: a prompt for
    credentials would otherwise hang the test instead of failing it.
    """
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if k in _KEPT_PIP_VARS or not k.startswith(("PIP_", "UV_", "TWINE_"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_NO_CACHE="1",
        UV_NO_PROGRESS="1",
        TWINE_NON_INTERACTIVE="1",
        # keyring (installed with twine) must not consult a desktop secret store.
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    env.update(extra or {})
    return env


def run_checked(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | str | None = None, timeout: float = 300,
    input: str | None = None,  # noqa: A002
) -> subprocess.CompletedProcess[str]:
    """subprocess.run in text mode that raises ``CommandFailed`` (with output) on a non-zero exit."""
    result = subprocess.run(
        list(argv), env=dict(env), cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise CommandFailed(result.returncode, result.args, result.stdout, result.stderr)
    return result


__all__ = [
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
