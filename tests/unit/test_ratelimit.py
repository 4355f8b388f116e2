"""The database storage for rate limits (envelope/accounts/ratelimit.py), against
SQLite and PostgreSQL, and the choice of storage from the settings."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select

from envelope import migrate
from envelope.accounts import ratelimit
from envelope.config import Settings
from envelope.db import Database
from envelope.models import RateLimitCounter
from envelope.accounts.ratelimit import DatabaseStorage


class Clock:
    """time.time() and time.monotonic() the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, database_path: Path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{database_path}")
    else:
        url = request.getfixturevalue("postgres").create_database(f"rl_{uuid.uuid4().hex[:10]}")
        migrate.upgrade(url)
        db = Database(url)
    yield db
    db.dispose()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit, "time", clock)
    return clock


@pytest.fixture
def storage(database: Database) -> DatabaseStorage:
    built = storage_from_string("envelope+db://", database=database)
    assert isinstance(built, DatabaseStorage)
    return built


def rows(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(RateLimitCounter))


def test_incr_counts_within_a_window_and_starts_again_after_it(storage, clock) -> None:
    assert storage.get("k") == 0
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("k", 60, amount=2) == 5
    assert storage.get("k") == 5 and storage.get("other") == 0
    assert storage.get_expiry("k") == clock.now + 60
    clock.now += 59
    assert storage.incr("k", 60) == 6  # a hit does not extend the window
    assert storage.get_expiry("k") == clock.now + 1
    clock.now += 1
    assert storage.get("k") == 0 and storage.get_expiry("k") == clock.now
    assert storage.incr("k", 60) == 1
    assert storage.get_expiry("k") == clock.now + 60


def test_clear_and_reset(storage, database) -> None:
    storage.incr("a", 60)
    storage.incr("b", 60)
    storage.clear("a")
    assert storage.get("a") == 0 and storage.get("b") == 1
    assert storage.reset() == 1
    assert storage.get("b") == 0 and rows(database) == 0
    assert storage.check()


def test_ended_windows_are_deleted_on_a_later_write(storage, database, clock) -> None:
    storage.incr("old", 10)  # the first write also sweeps (nothing yet)
    storage.incr("long", 3600)
    clock.now += ratelimit.CLEANUP_INTERVAL + 1
    storage.incr("new", 10)
    assert rows(database) == 2 and storage.get("long") == 1 and storage.get("old") == 0


def test_long_keys_with_any_characters(storage) -> None:
    key = "LIMITER/203.0.113.1/accounts.login/" + "é\udcff" * 5000
    assert storage.incr(key, 60) == 1 and storage.get(key) == 1


def test_concurrent_hits_are_all_counted(storage) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: storage.incr("shared", 60), range(200)))
    assert sorted(counts) == list(range(1, 201))
    assert storage.get("shared") == 200


def test_fixed_window_limiter_allows_exactly_the_limit(storage) -> None:
    limiter = FixedWindowRateLimiter(storage)
    item = parse("10 per minute")
    assert [limiter.hit(item, "alice") for _ in range(11)] == [True] * 10 + [False]
    assert not limiter.test(item, "alice") and limiter.test(item, "bob")
    stats = limiter.get_window_stats(item, "alice")
    assert stats.remaining == 0 and stats.reset_time > 0


def test_an_unreachable_database_is_reported_not_hidden(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    storage = DatabaseStorage("envelope+db://", database=database)
    assert not storage.check()
    with pytest.raises(storage.base_exceptions):
        storage.incr("k", 60)


def test_the_database_storage_needs_the_database() -> None:
    with pytest.raises(Exception, match="database"):
        storage_from_string("envelope+db://")


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "envelope+db://"),
        ({"CELERY_BROKER_URL": "redis://broker:6379/0"}, "redis://broker:6379/0"),
        ({"ENVELOPE_CACHE_URL": "rediss://cache:6380/2", "CELERY_BROKER_URL": "redis://broker:6379/0"},
         "rediss://cache:6380/2"),
        ({"ENVELOPE_CACHE_URL": "memory://", "CELERY_BROKER_URL": "sqla+sqlite:///b.db"}, "envelope+db://"),
        ({"ENVELOPE_RATELIMIT_STORAGE_URL": "memory://", "CELERY_BROKER_URL": "redis://b:6379/0"}, "memory://"),
        ({"ENVELOPE_RATELIMIT_STORAGE_URL": "redis://limits:6379/6"}, "redis://limits:6379/6"),
    ],
)
def test_storage_choice(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    settings = Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SECRET_KEY": "k" * 40, **env})
    assert settings.ratelimit_storage_url == expected
