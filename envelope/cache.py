"""A small cache interface: in-process by default, Redis when several web
processes should share it (ENVELOPE_CACHE_URL=redis://…)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float) -> None: ...


class MemoryCache:
    """LRU with per-entry expiry; bounded by entry count so memory stays flat."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class RedisCache:
    """Shared by every process; a Redis outage degrades to no caching, never to errors."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._errors = (redis.RedisError, OSError)

    def get(self, key: str) -> bytes | None:
        try:
            return self._redis.get(key)
        except self._errors:
            return None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            self._redis.set(key, value, px=max(1, int(ttl * 1000)))
        except self._errors:
            pass


def cache_from_url(url: str) -> Cache:
    if url.startswith("memory://"):
        return MemoryCache()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(url)
    raise ValueError(f"Unsupported cache URL {url!r}: use memory:// or redis://host:port/db.")
