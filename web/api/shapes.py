"""Rows -> JSON objects, one function per shape named in /api/openapi.json."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from envelope.orgs.member_tokens import token_record
from envelope.packaging.catalog import ProjectSummary, ReleaseView
from envelope.packaging.coverage import Coverage
from envelope.usage import ReleaseUsage
from envelope.models import (
    AccessToken,
    AuditEvent,
    File,
    Invitation,
    Membership,
    Organization,
    RepositoryConnection,
    TrustedPublisher,
    Role,
)


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def organization(org: Organization, role: Role) -> dict[str, Any]:
    return {"name": org.name, "role": role.value, "created": when(org.created)}


def project_summary(p: ProjectSummary) -> dict[str, Any]:
    return {
        "name": p.name,
        "normalized_name": p.normalized_name,
        "latest_version": p.latest_version,
        "summary": p.summary,
        "updated": when(p.updated),
    }


def file(f: File, downloads: dict[int, int] | None = None) -> dict[str, Any]:
    return {
        "filename": f.filename,
        "packagetype": f.packagetype,
        "size": f.size,
        "sha256": f.sha256,
        "requires_python": f.requires_python,
        "upload_time": when(f.upload_time),
        "source": f.source.value,
        "uploaded_by": f.uploaded_by,
        "yanked": f.yanked,
        "yanked_reason": f.yanked_reason,
        **({"downloads_30d": downloads.get(f.id, 0)} if downloads is not None else {}),
    }


def release_summary(r: ReleaseView, downloads: dict[int, int]) -> dict[str, Any]:
    """`downloads`: release id -> downloads in the last 30 days."""
    return {
        "version": r.version,
        "yanked": r.yanked,
        "prerelease": r.parsed_version.is_prerelease,
        "uploaded": when(r.uploaded),
        "files": len(r.files),
        "downloads_30d": downloads.get(r.release.id, 0),
    }


def coverage(c: Coverage) -> dict[str, Any]:
    return {
        "pure": c.pure,
        "rows": list(c.rows),
        "platforms": [{"key": p.key, "label": p.label} for p in c.platforms],
        "cells": {row: {p.key: c.covered(row, p) for p in c.platforms} for row in c.rows},
    }


def release(r: ReleaseView, matrix: Coverage, usage: ReleaseUsage) -> dict[str, Any]:
    return {
        **release_summary(r, {r.release.id: sum(usage.files.values())}),
        "summary": r.release.summary,
        "requires_python": r.release.requires_python,
        "description_content_type": r.release.description_content_type,
        "github_immutable": r.release.github_immutable,
        "files": [file(f, usage.files) for f in r.files],
        "coverage": coverage(matrix),
        "downloaders_30d": None if usage.downloaders is None else [
            {"credential": d.label, "token_id": d.token_id, "downloads": d.downloads, "last_day": d.last_day.isoformat()}
            for d in usage.downloaders
        ],
    }


def member(m: Membership) -> dict[str, Any]:
    return {"username": m.user.username, "role": m.role.value, "since": when(m.created)}


def invitation(i: Invitation) -> dict[str, Any]:
    return {
        "id": i.id,
        "email": i.email,
        "role": i.role.value,
        "created": when(i.created),
        "expires": when(i.expires),
    }


def token(t: AccessToken, status: str) -> dict[str, Any]:
    return token_record(t, status)


def repository(c: RepositoryConnection) -> dict[str, Any]:
    return {
        "full_name": c.full_name,
        "allowed_projects": list(c.allowed_projects or []),
        "private": c.github_token_sealed is not None,
        "created": when(c.created),
        "last_polled": when(c.last_polled),
    }


def publisher(p: TrustedPublisher) -> dict[str, Any]:
    return {
        "id": p.id,
        "repository": p.repository,
        "workflow": p.workflow,
        "environment": p.environment or None,
        "scope": p.scope,
        "projects": list(p.projects or []),
        "created": when(p.created),
        "last_used": when(p.last_used),
    }


def audit_event(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "created": when(e.created),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "detail": e.detail or {},
    }
