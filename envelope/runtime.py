"""The long-lived objects every entry point needs, built once from settings."""
from __future__ import annotations

from dataclasses import dataclass

from envelope.cache import Cache, cache_from_url
from envelope.config import Settings
from envelope.db import Database
from envelope.storage import Storage, storage_from_url


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    cache: Cache

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        return cls(
            settings,
            Database(settings.database_url),
            storage_from_url(settings.storage_url),
            cache_from_url(settings.cache_url),
        )
