"""Webhook payloads, bodies, signatures and headers, shaped like GitHub's deliveries."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.fake_github.records import iso, json_bytes

if TYPE_CHECKING:
    from tests.fake_github import FakeGitHub

__all__ = [
    "FakeGitHub",
    "FakeRepo",
    "RecordedRequest",
    "ping_payload",
    "release_event_payload",
    "sign_payload",
    "webhook_body",
    "webhook_headers",
]


def release_event_payload(
    fake: FakeGitHub,
    full_name: str,
    release: int | Mapping[str, Any],
    action: str = "published",
    *,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """GitHub's ``release`` webhook payload for the release's current state.

    ``action`` is one of published, unpublished, created, edited, deleted, prereleased, released.
    """
    with fake._lock:
        repo = fake.repo(full_name)
        payload: dict[str, Any] = {"action": action}
        if action == "edited":
            payload["changes"] = dict(changes or {})
        payload["release"] = fake.release_json(full_name, release)
        payload["repository"] = fake._repo_json(repo)
        if repo.owner_type == "Organization":
            owner = fake._owner_json(repo)
            payload["organization"] = {
                "login": owner["login"],
                "id": owner["id"],
                "node_id": owner["node_id"],
                "url": f"{fake.api_url}/orgs/{quote(repo.owner)}",
                "repos_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/repos",
                "events_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/events",
                "hooks_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/hooks",
                "issues_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/issues",
                "members_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/members{{/member}}",
                "public_members_url": f"{fake.api_url}/orgs/{quote(repo.owner)}/public_members{{/member}}",
                "avatar_url": owner["avatar_url"],
                "description": None,
            }
        payload["sender"] = fake._bot_json()
        return payload


def ping_payload(
    fake: FakeGitHub,
    full_name: str,
    *,
    hook_id: int = 470_000_001,
    events: Iterable[str] = ("release",),
    config_url: str = "https://envelope.example/hooks/github",
) -> dict[str, Any]:
    """GitHub's ``ping`` webhook payload, sent when a repository webhook is created."""
    with fake._lock:
        repo = fake.repo(full_name)
        base = f"{fake.api_url}/repos/{repo.full_name}/hooks/{hook_id}"
        created = iso(datetime.now(timezone.utc))
        return {
            "zen": "Keep it logically awesome.",
            "hook_id": hook_id,
            "hook": {
                "type": "Repository",
                "id": hook_id,
                "name": "web",
                "active": True,
                "events": list(events),
                "config": {"content_type": "json", "insecure_ssl": "0", "secret": "********", "url": config_url},
                "updated_at": created,
                "created_at": created,
                "url": base,
                "test_url": f"{base}/test",
                "ping_url": f"{base}/pings",
                "deliveries_url": f"{base}/deliveries",
                "last_response": {"code": None, "status": "unused", "message": None},
            },
            "repository": fake._repo_json(repo),
            "sender": fake._owner_json(repo) if repo.owner_type == "User" else fake._bot_json(),
        }


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes GitHub would POST for ``payload`` (compact JSON); sign exactly these bytes."""
    return json_bytes(payload)


def sign_payload(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(
    event: str,
    delivery_id: str,
    secret: str | None,
    body: bytes,
    *,
    hook_id: int = 470_000_001,
    target_id: int | None = None,
) -> dict[str, str]:
    """Headers of a GitHub webhook delivery. No signature headers when ``secret`` is None (as GitHub)."""
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc123",
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
    }
    if target_id is not None:
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(target_id)
    if secret is not None:
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = sign_payload(secret, body)
    return headers
