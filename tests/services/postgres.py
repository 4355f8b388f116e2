"""A throwaway PostgreSQL cluster (or TEST_DATABASE_URL), one database per user."""
from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit

from tests.services.process import LIVE, LOOPBACK, ServiceError, free_port, open_log, rmtree, stop_process_group, tail


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
        LIVE.add(self)
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
        self._log = open_log(self.log_path)
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
        LIVE.discard(self)
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
        rmtree(self.tmpdir)
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
