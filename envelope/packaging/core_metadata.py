"""A release's core metadata (the METADATA file stored beside each
distribution at publish time), read back for the pages and the JSON API.

The database keeps only what the index filters on (summary,
Requires-Python, the description); everything else a project page shows
(URLs, license, people, classifiers, dependencies) comes from this small
stored object. It is content-addressed by its sha256, so a cache entry can
never go stale: one storage read per release, then memory or Redis.
"""
from __future__ import annotations

from collections.abc import Iterable

from packaging.metadata import RawMetadata, parse_email

from envelope.cache import Cache
from envelope.models import File
from envelope.storage import Storage

CACHE_SECONDS = 24 * 3600  # immutable content: the bound is only on memory


def representative_file(files: Iterable[File]) -> File:
    """The file whose metadata speaks for the release: a wheel if there is
    one (a wheel's metadata is static; an sdist's may leave fields dynamic)."""
    return min(files, key=lambda f: (f.packagetype != "bdist_wheel", f.filename))


def release_metadata(storage: Storage, files: Iterable[File], cache: Cache | None = None) -> RawMetadata:
    """The parsed core metadata of the release these files belong to."""
    file = representative_file(files)
    key = f"core-metadata:{file.metadata_sha256}"
    raw = cache.get(key) if cache is not None else None
    if raw is None:
        with storage.open(file.metadata_key) as stream:
            raw = stream.read()
        if cache is not None:
            cache.set(key, raw, CACHE_SECONDS)
    parsed, _unparsed = parse_email(raw)
    return parsed
