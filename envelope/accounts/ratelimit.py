"""Where rate limits are counted: one place for every web process and node.

Flask-Limiter's default, memory://, counts in each process alone: with
two web workers, "10 a minute" let through about twice that. So the
counts live in the store the instance already shares: the Redis it is
configured with, else its database, through `DatabaseStorage`, a storage
for the `limits` library registered under the ``envelope+db://`` scheme.
The choice is made once, in envelope/config.py (Settings.ratelimit_storage_url).

Only the fixed-window strategy (Flask-Limiter's default) is supported: one
row per window, incremented atomically by a single upsert on SQLite and
PostgreSQL alike.
"""
from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import urlsplit

from limits.errors import ConfigurationError
from limits.storage import Storage
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from envelope.db import Database
from envelope.models import RateLimitCounter

log = logging.getLogger(__name__)

DATABASE_SCHEME = "envelope+db"
DATABASE_URL = DATABASE_SCHEME + "://"
CLEANUP_INTERVAL = 60.0  # seconds between one process's sweeps of ended windows


def uses_database(url: str) -> bool:
    """Whether the limits storage `url` (Settings.ratelimit_storage_url) is the database."""
    return urlsplit(url).scheme == DATABASE_SCHEME


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_limit_counters` table.

    Built by `limits.storage.storage_from_string("envelope+db://",
    database=Database(...))`; Flask-Limiter passes `database` from its
    RATELIMIT_STORAGE_OPTIONS. Ended windows are swept at most once a
    `CLEANUP_INTERVAL` per process, on a write."""

    STORAGE_SCHEME = [DATABASE_SCHEME]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, *, database: Database | None = None,
        **options: float | str | bool,
    ) -> None:
        if database is None:
            raise ConfigurationError(f"{DATABASE_URL} needs the instance's database (the `database` option)")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.database = database
        self._next_cleanup = 0.0  # time.monotonic() after which the next write sweeps

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to `key`'s window and return its count; a window that
        has ended starts again at `amount` for `expiry` seconds. One statement,
        so concurrent hits from any process never lose a count."""
        now = time.time()
        table = RateLimitCounter.__table__
        ended = table.c.expires_at <= now
        dialect = postgresql if self.database.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(key=_digest(key), count=amount, expires_at=now + expiry)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((ended, amount), else_=table.c.count + amount),
                "expires_at": case((ended, statement.excluded.expires_at), else_=table.c.expires_at),
            },
        ).returning(table.c.count)
        with self.database.autocommit() as connection:
            count = connection.execute(statement).scalar_one()
        self._sweep_now_and_then(now)
        return count

    def get(self, key: str) -> int:
        """The count of `key`'s current window; 0 when none is open."""
        with self.database.autocommit() as connection:
            count = connection.execute(self._current(key, RateLimitCounter.count)).scalar_one_or_none()
        return count or 0

    def get_expiry(self, key: str) -> float:
        """When `key`'s current window ends (Unix time); now when none is open."""
        with self.database.autocommit() as connection:
            expires_at = connection.execute(self._current(key, RateLimitCounter.expires_at)).scalar_one_or_none()
        return expires_at if expires_at is not None else time.time()

    def check(self) -> bool:
        try:
            with self.database.autocommit() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.database.autocommit() as connection:
            return connection.execute(delete(RateLimitCounter)).rowcount

    def clear(self, key: str) -> None:
        with self.database.autocommit() as connection:
            connection.execute(delete(RateLimitCounter).where(RateLimitCounter.key == _digest(key)))

    def sweep(self, now: float | None = None) -> int:
        """Delete every window that has ended; the number deleted."""
        now = time.time() if now is None else now
        with self.database.autocommit() as connection:
            return connection.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at <= now)).rowcount

    def _current(self, key: str, column):
        return select(column).where(RateLimitCounter.key == _digest(key), RateLimitCounter.expires_at > time.time())

    def _sweep_now_and_then(self, now: float) -> None:
        if time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + CLEANUP_INTERVAL
        try:
            self.sweep(now)
        except SQLAlchemyError:  # another process sweeping the same rows; the next sweep finishes
            log.warning("could not delete ended rate-limit windows", exc_info=True)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
