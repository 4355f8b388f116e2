"""What Envelope takes from an upstream project page: its wheels and sdists
in Envelope's shape, and the project-level keys worth carrying (PEP 708
locations, PEP 792 status), all read as untrusted input."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from envelope.errors import InvalidDistribution, InvalidInput
from envelope.index import pages as index
from envelope.models import ProjectStatus
from envelope.models.packaging import MAX_STATUS_REASON
from envelope.names import normalize, parse_filename

if TYPE_CHECKING:
    from pypi_simple import ProjectPage


def usable_files(page: ProjectPage, normalized_name: str) -> list[dict[str, Any]]:
    """The page's wheels and sdists in Envelope's shape.

    A file is left out when it has no sha256 (it could not be verified), is
    not a wheel or sdist, or its filename names another project (its URL
    would not lead back to this page)."""
    files = []
    for package in page.packages:
        sha256 = (package.digests or {}).get("sha256", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            continue
        try:
            parsed = parse_filename(package.filename)
        except InvalidDistribution:
            continue
        if parsed.name != normalized_name:
            continue
        metadata_sha256 = (package.metadata_digests or {}).get("sha256") if package.has_metadata else None
        yanked: bool | str = (package.yanked_reason or True) if package.is_yanked else False
        files.append({
            "filename": package.filename,
            "version": str(parsed.version),
            "url": package.url,
            "metadata_url": package.metadata_url,
            "sha256": sha256,
            "metadata_sha256": metadata_sha256.lower() if metadata_sha256 else None,
            "requires_python": package.requires_python,
            "yanked": yanked,
            "size": package.size,
            "upload_time": package.upload_time.strftime(index.UPLOAD_TIME_FORMAT) if package.upload_time else None,
        })
    return files


MAX_LOCATIONS = 20  # URLs kept of each of `tracks` and `alternate-locations`
MAX_LOCATION_LENGTH = 500  # characters


def project_meta(page: ProjectPage, normalized_name: str) -> dict[str, Any]:
    """The page's project-level keys worth carrying, checked as untrusted input.

    PEP 708: `tracks` and `alternate-locations`, each kept only as absolute
    http(s) URLs of a project page with this same name (after normalization;
    the PEP requires it of both), at most MAX_LOCATIONS of each. PEP 792:
    `status` when it is one of the four markers, with its reason."""
    meta: dict[str, Any] = {}
    tracks = _locations(page.tracks, normalized_name)
    if tracks:
        meta["tracks"] = tracks
    alternates = _locations(page.alternate_locations, normalized_name)
    if alternates:
        meta["alternate-locations"] = alternates
    status = getattr(page.status, "value", page.status)
    if status in {s.value for s in ProjectStatus}:
        meta["status"] = status
        reason = (page.status_reason or "").strip()
        if reason:
            meta["status_reason"] = reason[:MAX_STATUS_REASON]
    return meta


def _locations(urls: list[str] | None, normalized_name: str) -> list[str]:
    kept: list[str] = []
    for url in urls or []:
        if not isinstance(url, str) or len(url) > MAX_LOCATION_LENGTH or url in kept:
            continue
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            continue
        if not segments or _normalized_or_none(unquote(segments[-1])) != normalized_name:
            continue
        kept.append(url)
        if len(kept) == MAX_LOCATIONS:
            break
    return kept


def _normalized_or_none(text: str) -> str | None:
    try:
        return normalize(text)
    except InvalidInput:
        return None
