"""Repositories, releases and assets, and the faults a test injects."""
from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from tests.fake_github.records import Asset, DownloadFault, FakeRepo, Fault, Release

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


class StateMixin:
    """Part of FakeGitHub: what GitHub holds, and what goes wrong."""

    # ------------------------------------------------------------------ state: repos, releases, assets

    def _tick(self) -> datetime:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self._clock = max(now, self._clock)  # wall-clock UTC, never going backwards
        return self._clock

    def add_token(self, token: str) -> None:
        """Make ``token`` a valid credential (it sees public repos and repos added without a token)."""
        with self._lock:
            self._extra_tokens.add(token)

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        token: str | None = None,
        owner_type: str = "Organization",
        default_branch: str = "main",
        description: str | None = None,
    ) -> FakeRepo:
        """Add a repository. A private repo without ``token`` gets a generated one (``repo.token``)."""
        with self._changed:
            key = f"{owner}/{name}".lower()
            if key in self._repos:
                raise ValueError(f"repository {owner}/{name} exists already")
            if private and token is None:
                token = "ghp_" + secrets.token_hex(18)
            owner_key = owner.lower()
            if owner_key not in self._owners:
                self._owners[owner_key] = (next(self._owner_ids), owner_type)
            owner_id, owner_type = self._owners[owner_key]
            repo = FakeRepo(
                owner=owner,
                name=name,
                id=next(self._repo_ids),
                private=private,
                token=token,
                owner_id=owner_id,
                owner_type=owner_type,
                default_branch=default_branch,
                description=description,
                created_at=self._tick(),
            )
            self._repos[key] = repo
            self._changed.notify_all()
            return repo

    def repo(self, full_name: str) -> FakeRepo:
        with self._lock:
            try:
                return self._repos[full_name.lower()]
            except KeyError:
                raise KeyError(f"no repository {full_name!r} in the fake") from None

    def _release(self, full_name: str, release_id: int | Mapping[str, Any]) -> tuple[FakeRepo, Release]:
        repo = self.repo(full_name)
        rid = int(release_id["id"]) if isinstance(release_id, Mapping) else int(release_id)
        try:
            return repo, repo.releases[rid]
        except KeyError:
            raise KeyError(f"no release {rid} in {full_name}") from None

    def add_release(
        self,
        full_name: str,
        tag: str,
        *,
        name: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        body: str | None = "",
        target_commitish: str | None = None,
        immutable: bool = False,
    ) -> dict[str, Any]:
        """Create a release (newest so far) and return its JSON as GitHub would show it.
        ``immutable``: GitHub's immutable releases (assets and tag locked once published)."""
        with self._changed:
            repo = self.repo(full_name)
            now = self._tick()
            release = Release(
                id=next(self._release_ids),
                tag_name=tag,
                name=name,
                body=body,
                draft=draft,
                prerelease=prerelease,
                target_commitish=target_commitish or repo.default_branch,
                created_at=now,
                published_at=None if draft else now,
                updated_at=now,
                untagged=secrets.token_hex(10),
                immutable=immutable,
            )
            repo.releases[release.id] = release
            repo.rev += 1
            self._changed.notify_all()
            return self._release_json(repo, release)

    def set_release(self, full_name: str, release_id: int | Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """Edit a release: tag_name, name, body, draft, prerelease, target_commitish.

        Publishing a draft (``draft=False``) sets ``published_at``. Returns the new JSON.
        """
        allowed = {"tag_name", "name", "body", "draft", "prerelease", "target_commitish", "immutable"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"set_release() cannot change {sorted(unknown)}")
        with self._changed:
            repo, release = self._release(full_name, release_id)
            was_draft = release.draft
            for key, value in changes.items():
                setattr(release, key, value)
            now = self._tick()
            if was_draft and not release.draft:
                release.published_at = now
            elif release.draft:
                release.published_at = None
            release.updated_at = now
            release.rev += 1
            repo.rev += 1
            self._changed.notify_all()
            return self._release_json(repo, release)

    def remove_release(self, full_name: str, release_id: int | Mapping[str, Any]) -> None:
        with self._changed:
            repo, release = self._release(full_name, release_id)
            for asset in release.assets.values():
                self._asset_index.pop(asset.id, None)
                self._key_index.pop(asset.key, None)
            del repo.releases[release.id]
            repo.rev += 1
            self._changed.notify_all()

    def add_asset(
        self,
        full_name: str,
        release_id: int | Mapping[str, Any],
        filename: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        label: str | None = None,
        state: str = "uploaded",
    ) -> dict[str, Any]:
        """Attach an asset to a release and return its JSON. ``state="open"`` is an upload in progress."""
        with self._changed:
            repo, release = self._release(full_name, release_id)
            if any(a.name == filename for a in release.assets.values()):
                raise ValueError(f"release {release.id} already has an asset named {filename!r}")
            now = self._tick()
            asset = Asset(
                id=next(self._asset_ids),
                release_id=release.id,
                name=filename,
                label=label,
                data=bytes(data),
                content_type=content_type,
                state=state,
                key=str(uuid.uuid4()),
                created_at=now,
                updated_at=now,
            )
            release.assets[asset.id] = asset
            release.rev += 1
            release.updated_at = now
            repo.rev += 1
            self._asset_index[asset.id] = (repo, release, asset)
            self._key_index[asset.key] = asset.id
            self._changed.notify_all()
            return self._asset_json(asset)

    def remove_asset(self, full_name: str, asset_id: int | Mapping[str, Any]) -> None:
        with self._changed:
            aid = int(asset_id["id"]) if isinstance(asset_id, Mapping) else int(asset_id)
            repo = self.repo(full_name)
            entry = self._asset_index.get(aid)
            if entry is None or entry[0] is not repo:
                raise KeyError(f"no asset {aid} in {full_name}")
            _, release, asset = entry
            del release.assets[aid]
            del self._asset_index[aid]
            self._key_index.pop(asset.key, None)
            release.rev += 1
            release.updated_at = self._tick()
            repo.rev += 1
            self._changed.notify_all()

    def set_asset(self, full_name: str, asset_id: int | Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """Edit an asset: name, label, state, data, content_type, url (what the API
        answers as its download URL), digest (None: no ``digest`` key, as older GitHub
        Enterprise Servers; "": the right one; other: answered as is). Returns the new JSON."""
        allowed = {"name", "label", "state", "data", "content_type", "url", "digest"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"set_asset() cannot change {sorted(unknown)}")
        with self._changed:
            aid = int(asset_id["id"]) if isinstance(asset_id, Mapping) else int(asset_id)
            repo = self.repo(full_name)
            entry = self._asset_index.get(aid)
            if entry is None or entry[0] is not repo:
                raise KeyError(f"no asset {aid} in {full_name}")
            _, release, asset = entry
            for key, value in changes.items():
                setattr(asset, key, bytes(value) if key == "data" else value)
            asset.updated_at = self._tick()
            asset.rev += 1
            release.rev += 1
            repo.rev += 1
            self._changed.notify_all()
            return self._asset_json(asset)

    def release_json(self, full_name: str, release_id: int | Mapping[str, Any]) -> dict[str, Any]:
        """The release's current JSON (as an authorized caller would see it)."""
        with self._lock:
            repo, release = self._release(full_name, release_id)
            return self._release_json(repo, release)

    def asset_json(self, asset_id: int | Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            aid = int(asset_id["id"]) if isinstance(asset_id, Mapping) else int(asset_id)
            return self._asset_json(self._asset_index[aid][2])

    def repo_json(self, full_name: str) -> dict[str, Any]:
        with self._lock:
            return self._repo_json(self.repo(full_name))

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self, path_substring: str, status: int = 500, times: int = 1, *, host: str = "api", message: str | None = None
    ) -> None:
        """The next ``times`` requests to ``host`` whose path (with query) contains ``path_substring``
        answer ``status`` with a GitHub-shaped JSON error (an S3-shaped XML error on the objects host).

        Injected failures are answered first: before auth, rate limiting and conditional requests.
        """
        if host not in ("api", "objects"):
            raise ValueError("host is 'api' or 'objects'")
        with self._lock:
            self._faults.append(Fault(host, path_substring, status, times, message))

    def secondary_rate_limit(
        self, path_substring: str, *, status: int = 403, retry_after: int | None = 60, times: int = 1
    ) -> None:
        """The next ``times`` API requests whose path contains ``path_substring`` hit a secondary rate
        limit, as GitHub answers one: ``status`` 403 or 429, GitHub's message, the (untouched) primary
        ``X-RateLimit-*`` headers and, unless ``retry_after`` is None, ``Retry-After`` in seconds.

        Answered like ``fail_next``: before auth, the primary limit and conditional requests.
        """
        if status not in (403, 429):
            raise ValueError("GitHub answers secondary rate limits with 403 or 429")
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        )
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        with self._lock:
            self._faults.append(Fault("api", path_substring, status, times, message, headers))

    def set_rate_limit(self, remaining: int, reset_epoch: float | None = None, *, limit: int | None = None) -> None:
        """Set the (single, shared) core rate-limit bucket.

        Each API request uses one (not 304s, not /rate_limit, not 401s). A request arriving with 0
        remaining answers 403 with GitHub's message. Once ``reset_epoch`` passes, the bucket refills.
        """
        with self._lock:
            if limit is not None:
                self._rate_limit = limit
            self._rate_limit = max(self._rate_limit, remaining)
            self._rate_remaining = remaining
            self._rate_reset = int(reset_epoch if reset_epoch is not None else time.time() + 3600)

    def slow_download(
        self, filename: str, seconds: float, *, before_headers: bool = False, times: int | None = None
    ) -> None:
        """Downloads of asset ``filename`` from the objects host stall for ``seconds``.

        By default the status line, headers and the first half of the body are sent at once, then
        the stall, then the rest (so a worker can be killed mid-download). ``before_headers=True``
        stalls before anything is sent (to exercise read timeouts). ``stop()`` cuts the stall short.
        """
        with self._lock:
            self._download_faults.setdefault(filename, []).append(
                DownloadFault("slow", seconds=seconds, before_headers=before_headers, remaining=times)
            )

    def corrupt_download(self, filename: str, mode: str = "garble", *, times: int | None = None) -> None:
        """Serve asset ``filename`` wrong.

        ``garble``: right length, flipped bytes (only a digest check notices); ``truncate``:
        ``Content-Length`` of the full size, then the connection closes after half the bytes (clients
        raise a short-read error); ``short``: a clean response of only the first half.
        """
        if mode not in ("garble", "truncate", "short"):
            raise ValueError("mode is 'garble', 'truncate' or 'short'")
        with self._lock:
            self._download_faults.setdefault(filename, []).append(DownloadFault(mode, remaining=times))

    def clear_faults(self) -> None:
        """Forget pending fail_next, slow and corrupt downloads (the rate limit is left as is)."""
        with self._lock:
            self._faults.clear()
            self._download_faults.clear()
