"""What the fake saw (every request, any leaked credential) and the JSON shapes it answers with."""
from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import quote, urlsplit

from tests.fake_github.records import ACTIONS_BOT, Asset, FakeRepo, RecordedRequest, Release, iso, node_id

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


class RecordingMixin:
    """Part of FakeGitHub: requests seen, and GitHub's JSON shapes."""

    # ------------------------------------------------------------------ recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request both hosts received, in order: (host, method, path, headers, at)."""
        with self._lock:
            return list(self._requests)

    @property
    def auth_leaks(self) -> list[RecordedRequest]:
        """Requests that reached the objects host with an ``Authorization`` header."""
        with self._lock:
            return list(self._auth_leaks)

    @property
    def errors(self) -> list[str]:
        """Unexpected exceptions inside the fake's handlers (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def assert_no_auth_leaks(self) -> None:
        leaks = self.auth_leaks
        if leaks:
            lines = [f"{r.method} {r.path} Authorization={r.header('Authorization')!r}" for r in leaks]
            raise AssertionError("credentials were sent to the asset host:\n" + "\n".join(lines))

    def count(self, path_substring: str = "", *, host: str | None = None, method: str | None = None) -> int:
        """How many recorded requests contain ``path_substring`` in their path (optionally on one host)."""
        return len(self.matching(path_substring, host=host, method=method))

    def matching(
        self, path_substring: str = "", *, host: str | None = None, method: str | None = None
    ) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self._requests
                if path_substring in r.path
                and (host is None or r.host == host)
                and (method is None or r.method == method.upper())
            ]

    def wait_for_request(
        self, path_substring: str, *, host: str | None = None, count: int = 1, timeout: float = 10.0
    ) -> RecordedRequest:
        """Block until at least ``count`` matching requests were received; return the last one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.matching(path_substring, host=host)
                if len(found) >= count:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {count} request(s) matching {path_substring!r} within {timeout}s")
                self._changed.wait(left)

    def clear_requests(self) -> None:
        """Forget recorded requests and auth leaks."""
        with self._lock:
            self._requests.clear()
            self._auth_leaks.clear()

    def _record(self, host: str, method: str, path: str, headers: dict[str, str]) -> RecordedRequest:
        request = RecordedRequest(host, method, path, headers, time.monotonic())
        with self._changed:
            self._requests.append(request)
            if host == "objects" and any(k.lower() == "authorization" for k in headers):
                self._auth_leaks.append(request)
            self._changed.notify_all()
        return request

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stop() is called first; True if the full time elapsed."""
        return not self._stopping.wait(seconds)

    def _count_download(self, filename: str) -> None:
        if not self.count_downloads:
            return
        with self._lock:
            for _repo, release, asset in self._asset_index.values():
                if asset.name == filename:
                    asset.download_count += 1
                    asset.rev += 1
                    release.rev += 1

    # ------------------------------------------------------------------ JSON shapes

    def _user_json(self, login: str, user_id: int, user_type: str = "User") -> dict[str, Any]:
        api = self.api_url
        kind = "Bot" if user_type == "Bot" else ("Organization" if user_type == "Organization" else "User")
        return {
            "login": login,
            "id": user_id,
            "node_id": node_id(kind, user_id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": f"{api}/users/{quote(login)}",
            "html_url": f"{self.web_url}/{quote(login)}",
            "followers_url": f"{api}/users/{quote(login)}/followers",
            "following_url": f"{api}/users/{quote(login)}/following{{/other_user}}",
            "gists_url": f"{api}/users/{quote(login)}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{quote(login)}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{quote(login)}/subscriptions",
            "organizations_url": f"{api}/users/{quote(login)}/orgs",
            "repos_url": f"{api}/users/{quote(login)}/repos",
            "events_url": f"{api}/users/{quote(login)}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{quote(login)}/received_events",
            "type": user_type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def _bot_json(self) -> dict[str, Any]:
        return self._user_json(ACTIONS_BOT["login"], ACTIONS_BOT["id"], "Bot")

    def _owner_json(self, repo: FakeRepo) -> dict[str, Any]:
        return self._user_json(repo.owner, repo.owner_id, repo.owner_type)

    def _repo_json(self, repo: FakeRepo, *, with_permissions: bool = False) -> dict[str, Any]:
        api = self.api_url
        base = f"{api}/repos/{repo.full_name}"
        html = f"{self.web_url}/{repo.full_name}"
        host = urlsplit(self.web_url).netloc
        pushed = max([repo.created_at, *(r.updated_at for r in repo.releases.values())])
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": repo.node_id,
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self._owner_json(repo),
            "html_url": html,
            "description": repo.description,
            "fork": False,
            "url": base,
            "forks_url": f"{base}/forks",
            "keys_url": f"{base}/keys{{/key_id}}",
            "collaborators_url": f"{base}/collaborators{{/collaborator}}",
            "teams_url": f"{base}/teams",
            "hooks_url": f"{base}/hooks",
            "issue_events_url": f"{base}/issues/events{{/number}}",
            "events_url": f"{base}/events",
            "assignees_url": f"{base}/assignees{{/user}}",
            "branches_url": f"{base}/branches{{/branch}}",
            "tags_url": f"{base}/tags",
            "blobs_url": f"{base}/git/blobs{{/sha}}",
            "git_tags_url": f"{base}/git/tags{{/sha}}",
            "git_refs_url": f"{base}/git/refs{{/sha}}",
            "trees_url": f"{base}/git/trees{{/sha}}",
            "statuses_url": f"{base}/statuses/{{sha}}",
            "languages_url": f"{base}/languages",
            "stargazers_url": f"{base}/stargazers",
            "contributors_url": f"{base}/contributors",
            "subscribers_url": f"{base}/subscribers",
            "subscription_url": f"{base}/subscription",
            "commits_url": f"{base}/commits{{/sha}}",
            "git_commits_url": f"{base}/git/commits{{/sha}}",
            "comments_url": f"{base}/comments{{/number}}",
            "issue_comment_url": f"{base}/issues/comments{{/number}}",
            "contents_url": f"{base}/contents/{{+path}}",
            "compare_url": f"{base}/compare/{{base}}...{{head}}",
            "merges_url": f"{base}/merges",
            "archive_url": f"{base}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{base}/downloads",
            "issues_url": f"{base}/issues{{/number}}",
            "pulls_url": f"{base}/pulls{{/number}}",
            "milestones_url": f"{base}/milestones{{/number}}",
            "notifications_url": f"{base}/notifications{{?since,all,participating}}",
            "labels_url": f"{base}/labels{{/name}}",
            "releases_url": f"{base}/releases{{/id}}",
            "deployments_url": f"{base}/deployments",
            "created_at": iso(repo.created_at),
            "updated_at": iso(pushed),
            "pushed_at": iso(pushed),
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": not repo.private,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.private else "public",
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": repo.default_branch,
        }
        if with_permissions:
            data["permissions"] = {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}
        if repo.owner_type == "Organization":
            data["organization"] = self._owner_json(repo)
        data["network_count"] = 0
        data["subscribers_count"] = 0
        return data

    def _asset_json(self, asset: Asset) -> dict[str, Any]:
        repo, release, _ = self._asset_index[asset.id]
        return {
            "url": asset.url or f"{self.api_url}/repos/{repo.full_name}/releases/assets/{asset.id}",
            "id": asset.id,
            "node_id": node_id("ReleaseAsset", asset.id),
            "name": asset.name,
            "label": asset.label,
            "uploader": self._bot_json(),
            "content_type": asset.content_type,
            "state": asset.state,
            "size": len(asset.data),
            **self._digest_json(asset),
            "download_count": asset.download_count,
            "created_at": iso(asset.created_at),
            "updated_at": iso(asset.updated_at),
            "browser_download_url": (
                f"{self.web_url}/{repo.full_name}/releases/download/{quote(self._tag_path(release), safe='')}"
                f"/{quote(asset.name, safe='')}"
            ),
        }

    @staticmethod
    def _digest_json(asset: Asset) -> dict[str, Any]:
        if asset.digest is None:
            return {}
        return {"digest": asset.digest or "sha256:" + hashlib.sha256(asset.data).hexdigest()}

    @staticmethod
    def _tag_path(release: Release) -> str:
        return f"untagged-{release.untagged}" if release.draft else release.tag_name

    def _release_json(self, repo: FakeRepo, release: Release) -> dict[str, Any]:
        api = self.api_url
        base = f"{api}/repos/{repo.full_name}"
        tag_q = quote(release.tag_name, safe="")
        return {
            "url": f"{base}/releases/{release.id}",
            "assets_url": f"{base}/releases/{release.id}/assets",
            "upload_url": f"{base}/releases/{release.id}/assets{{?name,label}}",
            "html_url": f"{self.web_url}/{repo.full_name}/releases/tag/{quote(self._tag_path(release), safe='')}",
            "id": release.id,
            "author": self._bot_json(),
            "node_id": node_id("Release", release.id),
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "draft": release.draft,
            "immutable": release.immutable,
            "prerelease": release.prerelease,
            "created_at": iso(release.created_at),
            "updated_at": iso(release.updated_at),
            "published_at": iso(release.published_at),
            "assets": [self._asset_json(a) for a in sorted(release.assets.values(), key=lambda a: a.id)],
            "tarball_url": f"{base}/tarball/{tag_q}",
            "zipball_url": f"{base}/zipball/{tag_q}",
            "body": release.body,
        }
