"""PyPI's JSON API (`/pypi/{project}/json`, `/pypi/{project}/{version}/json`) as data.

Not a standard, but what pip-tools (`--generate-hashes`), Dependabot and
Renovate read from any index that serves it, in Warehouse's shape. Which
files appear is decided by the simple index's one filter (`visible_files`),
so this API never shows a caller more, or less, than /simple/ does.

Release-level fields that the database does not keep (requires_dist,
project_urls, author, classifiers, ...) come from the core metadata stored
beside one file of the release at publish time: a small object, read once
per cached page, never the distribution itself.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy.orm import Session

from envelope.cache import Cache
from envelope.db import Database
from envelope.errors import NotFound
from envelope.index.pages import UPLOAD_TIME_FORMAT, cached_body, path_segment, visible_files, visible_serial
from envelope.models import File, Project
from envelope.orgs.identity import Caller
from envelope.packaging.core_metadata import release_metadata
from envelope.storage import Storage

LEGACY_UPLOAD_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # Warehouse's `upload_time`: UTC, no zone

# Core metadata fields copied into `info` under Warehouse's names, where the metadata has them.
_METADATA_FIELDS = {
    "author": "author",
    "author_email": "author_email",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "license": "license",
    "license_expression": "license_expression",
    "license_files": "license_files",
    "classifiers": "classifiers",
    "home_page": "home_page",
    "download_url": "download_url",
    "platform": "platforms",
    "requires_dist": "requires_dist",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
}

Rows = Sequence[tuple[File, str]]


def parse_version(text: str) -> Version:
    """The version a URL names; NotFound (not 400) for one that cannot exist, like a missing one."""
    try:
        return Version(text)
    except InvalidVersion:
        raise NotFound("Not Found") from None


def project_json(
    session: Session, storage: Storage, project: Project, principal: Caller, links: Links,
    version: Version | None = None,
) -> dict[str, Any]:
    """The project's document (`version` None) or one release's; NotFound for a
    version this caller may not see, exactly as for one that does not exist."""
    files = visible_files(session, project, principal)
    releases = {v: list(group) for v, group in groupby(files, key=lambda row: row[1])}
    if version is None:
        chosen = latest_version(releases)
        if chosen is None:
            raise NotFound("Not Found")  # a project with nothing visible reads as absent
    else:
        chosen = next((v for v in releases if Version(v) == version), None)
        if chosen is None:
            raise NotFound("Not Found")
    release_files = releases[chosen]
    document: dict[str, Any] = {
        "info": _info(storage, project, chosen, release_files, links),
        "last_serial": visible_serial(project, principal, files),
        "urls": [_file_entry(file, links) for file, _ in release_files],
        "vulnerabilities": [],
    }
    if version is None:
        document["releases"] = {v: [_file_entry(file, links) for file, _ in rows] for v, rows in releases.items()}
    return document


def latest_version(releases: dict[str, Rows]) -> str | None:
    """The version Warehouse names in `info.version`: the newest final release
    that is not yanked, else the newest non-yanked pre-release, else the newest."""
    ordered = sorted(releases, key=Version, reverse=True)
    live = [v for v in ordered if not _release_yanked(releases[v])]
    finals = [v for v in live if not Version(v).is_prerelease]
    return next(iter(finals or live or ordered), None)


class Links:
    """Absolute URLs, built from the configured base URL (never a request's Host)."""

    def __init__(self, base_url: str, organization: str) -> None:
        self.root = f"{base_url.rstrip('/')}/{path_segment(organization)}"

    def file(self, file: File) -> str:
        return f"{self.root}/files/{path_segment(file.sha256)}/{path_segment(file.filename)}"

    def project(self, name: str) -> str:
        return f"{self.root}/projects/{path_segment(name)}/"

    def release(self, name: str, version: str) -> str:
        return f"{self.project(name)}{path_segment(version)}/"


def _release_yanked(rows: Rows) -> bool:
    """A release is yanked when every file of it is (Envelope yanks per file)."""
    return all(file.yanked for file, _ in rows)


def _info(storage: Storage, project: Project, version: str, rows: Rows, links: Links) -> dict[str, Any]:
    release = rows[0][0].release
    metadata = release_metadata(storage, (file for file, _ in rows))
    yanked = _release_yanked(rows)
    info: dict[str, Any] = {
        "name": project.name,
        "version": version,
        "summary": release.summary,
        "description": release.description or "",
        "description_content_type": release.description_content_type,
        "requires_python": release.requires_python,
        "keywords": ",".join(metadata.get("keywords", [])) or None,
        "project_urls": metadata.get("project_urls") or None,
        "package_url": links.project(project.normalized_name),
        "project_url": links.project(project.normalized_name),
        "release_url": links.release(project.normalized_name, version),
        "yanked": yanked,
        "yanked_reason": next((f.yanked_reason for f, _ in rows if f.yanked_reason), None) if yanked else None,
        "bugtrack_url": None,
        "docs_url": None,
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
    }
    for key, field in _METADATA_FIELDS.items():
        value = metadata.get(field)
        info[key] = value if value not in ("", []) else None
    return info


def _file_entry(file: File, links: Links) -> dict[str, Any]:
    """One file in Warehouse's shape; digests only as stored, never computed here."""
    digests = {"sha256": file.sha256}
    if file.md5:
        digests["md5"] = file.md5
    if file.blake2b_256:
        digests["blake2b_256"] = file.blake2b_256
    return {
        "comment_text": "",
        "digests": digests,
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": file.md5 or None,
        "packagetype": file.packagetype,
        "python_version": file.python_version,
        "requires_python": file.requires_python,
        "size": file.size,
        "upload_time": file.upload_time.strftime(LEGACY_UPLOAD_TIME_FORMAT),
        "upload_time_iso_8601": file.upload_time.strftime(UPLOAD_TIME_FORMAT),
        "url": links.file(file),
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason if file.yanked else None,
    }


def cached_project_json(
    db: Database, storage: Storage, cache: Cache, project_id: int, serial: int, principal: Caller, links: Links,
    version: Version | None = None, compressed: bool = False,
) -> bytes:
    """The document rendered once per (project serial, restriction, version,
    link root), and gzipped once more when `compressed`: publish, yank and
    delete bump the serial, which is what invalidates it."""
    key = f"pypi-json:{project_id}:{serial}:{principal.restriction_key}:{version or ''}:{links.root}"

    def render() -> bytes:
        with db.read() as session:
            project = session.get(Project, project_id)
            if project is None:
                raise NotFound("Not Found")
            return json.dumps(project_json(session, storage, project, principal, links, version)).encode()

    return cached_body(cache, key, render, compressed)
