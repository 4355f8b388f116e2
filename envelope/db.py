"""Engine and session factory, shared by web, worker and CLI."""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: SQLite gets WAL and a busy timeout so
    the web server, worker and CLI can share one file."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn) -> None:
    """Writers take the lock up front: a deferred transaction that upgrades to
    a writer later fails with 'database is locked' instead of waiting. Readers
    stay deferred so they never queue behind a writer (WAL)."""
    options = conn.get_execution_options()
    if options.get("envelope_autocommit"):
        return  # Database.autocommit(): every statement is its own transaction
    mode = "IMMEDIATE" if options.get("envelope_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The engine plus two session factories: one for reads, one for writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(envelope_write=True), expire_on_commit=False
        )
        # SQLite: its driver already runs without implicit transactions (see
        # _sqlite_pragmas), so skipping our BEGIN is enough; a server database
        # is switched to autocommit for the checkout.
        autocommit = {} if url.startswith("sqlite") else {"isolation_level": "AUTOCOMMIT"}
        self._autocommit = self.engine.execution_options(envelope_autocommit=True, **autocommit)
        on_disk = url.startswith("sqlite") and self.engine.url.database not in (None, "", ":memory:")
        self._hot = HotReads(self) if on_disk else None  # an in-memory database is one per connection

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A Core connection outside any transaction, for the hot path's
        one-statement reads (an index page's serial, a download's row): one
        statement is its own consistent snapshot, and the BEGIN and COMMIT
        round trips of a session are saved."""
        with self._autocommit.connect() as connection:
            yield connection

    @contextmanager
    def hot(self) -> Iterator[Connection | HotReads]:
        """What the index's per-request lookups (a page's serial and the auth
        epoch) run on: autocommit(), except on SQLite, where SQLAlchemy's
        connection checkout and statement execution cost about seven times
        the query itself (bench/README.md), and HotReads runs it instead."""
        if self._hot is None:
            with self.autocommit() as connection:
                yield connection
        else:
            yield self._hot

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self._writer() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


class HotReads:
    """Prebuilt one-row reads on SQLite, each on a connection its thread
    keeps, outside any transaction: one statement is its own snapshot (WAL),
    so a change committed by any process is seen by the next read, as with
    autocommit(). Statements are compiled once; `execute(...).first()` is all
    of a Connection this offers, and the row reads like SQLAlchemy's (by
    position or column name, with the columns' types applied: datetimes,
    enums). A statement with an expanding parameter (a restricted token's
    project names) goes through autocommit() instead."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._local = threading.local()
        self._compiled: dict[Executable, _Compiled | None] = {}

    def execute(self, statement: Executable, params: dict[str, Any]) -> _Row:
        compiled = self._compiled.get(statement, False)
        if compiled is False:
            compiled = self._compile(statement)
        if compiled is None:
            with self._db.autocommit() as connection:
                return _Row(connection.execute(statement, params).first())
        given = {**compiled.literals, **params}
        raw = self._connection().execute(compiled.sql, [given[name] for name in compiled.names]).fetchone()
        return _Row(None if raw is None else compiled.row(raw))

    def _compile(self, statement: Executable) -> _Compiled | None:
        """The statement as sqlite3 runs it, built with SQLAlchemy's public
        API only (the compiled string and parameters, the selected columns'
        types); None for what this cannot run: not a SELECT, or a parameter
        rendered at execution (an expanding IN)."""
        dialect = self._db.engine.dialect
        columns = getattr(statement, "selected_columns", None)
        result = statement.compile(dialect=dialect)
        runnable = columns is not None and not (result.literal_execute_params or result.post_compile_params)
        compiled = None if not runnable else _Compiled(
            result.string, tuple(result.positiontup or ()),
            {name: value for name, value in result.params.items() if value is not None},
            collections.namedtuple("HotRow", columns.keys(), rename=True),
            tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns))
        self._compiled[statement] = compiled
        return compiled

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            engine = self._db.engine
            args, kwargs = engine.dialect.create_connect_args(engine.url)
            connection = engine.dialect.loaded_dbapi.connect(*args, **kwargs)
            _sqlite_pragmas(connection, None)
            self._local.connection = connection
        return connection


@dataclass(frozen=True)
class _Compiled:
    """A statement as sqlite3 runs it, and how its raw row becomes SQLAlchemy's."""

    sql: str
    names: tuple[str, ...]  # the parameters, in order
    literals: dict[str, Any]  # the values the statement itself carries (a literal in a CASE, say)
    row_type: type[tuple]
    processors: tuple[Callable[[Any], Any] | None, ...]  # the columns' result processors (None: as stored)

    def row(self, raw: tuple) -> tuple:
        return self.row_type._make(
            value if process is None or value is None else process(value)
            for value, process in zip(raw, self.processors)
        )


class _Row:
    """A result of one row, as Connection.execute() returns it."""

    def __init__(self, row: Any) -> None:
        self._row = row

    def first(self) -> Any:
        return self._row
