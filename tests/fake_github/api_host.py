"""The API host: routes, pagination, rate limits and errors as GitHub's REST API answers them."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tests.fake_github.objects_host import etag_matches
from tests.fake_github.records import (
    ACTIONS_BOT,
    API_VERSION,
    DOC_URLS,
    DOCS,
    ERROR_MESSAGES,
    RATE_LIMIT_DOCS,
    VARY,
    FakeRepo,
    Fault,
    Response,
    json_bytes,
)

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


class ApiHostMixin:
    """Part of FakeGitHub: api.github.com."""

    # ------------------------------------------------------------------ the API host

    def _request_id(self) -> str:
        n = next(self._request_ids)
        salt = f"{secrets.randbelow(0xFFFF):04X}:{secrets.randbelow(0xFFFFF):05X}"
        return f"{salt}:{n:06X}:{n * 7:07X}:{int(time.time()):08X}"

    def _rate_headers(self) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(self._rate_limit)),
            ("X-RateLimit-Remaining", str(self._rate_remaining)),
            ("X-RateLimit-Reset", str(self._rate_reset)),
            ("X-RateLimit-Used", str(self._rate_limit - self._rate_remaining)),
            ("X-RateLimit-Resource", "core"),
        ]

    def _known_tokens(self) -> set[str]:
        tokens = {r.token for r in self._repos.values() if r.token}
        return tokens | self._extra_tokens | {t for t in self._apps.tokens if self._is_installation_token(t)}

    @staticmethod
    def _parse_authorization(value: str | None) -> tuple[str | None, bool]:
        """(token, malformed)."""
        if value is None:
            return None, False
        scheme, _, credential = value.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() in ("token", "bearer") and credential:
            return credential, False
        return None, True

    @staticmethod
    def _user_id_for(token: str) -> int:
        return 10_000_000 + int(hashlib.sha256(token.encode()).hexdigest()[:6], 16)

    def _api_response(self, method: str, target: str, headers: Any, client_ip: str, body: bytes = b"") -> Response:
        with self._lock:
            request_id = self._request_id()
            common = [("X-GitHub-Request-Id", request_id)]
            split = urlsplit(target)
            path = re.sub(r"/{2,}", "/", unquote(split.path)).rstrip("/") or "/"
            raw_path = split.path.rstrip("/") or "/"
            query = parse_qsl(split.query, keep_blank_values=True)

            fault = self._take_fault("api", target)
            if fault is not None:
                message = fault.message or ERROR_MESSAGES.get(fault.status) or HTTPStatus(fault.status).phrase
                return self._error(fault.status, message, DOCS, common + self._rate_headers() + list(fault.headers))

            # The web host (github.com): the App manifest and installation pages.
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)) if body else {}
            app_page = self._app_web_route(method, path, dict(query), form)
            if app_page is not None:
                response, webhook = app_page
                response.webhook = webhook
                return response

            # The web host (github.com): browser_download_url and friends; no API headers.
            web = re.fullmatch(r"/([^/]+)/([^/]+)/releases/download/([^/]+)/([^/]+)", raw_path)
            if web is not None and not raw_path.startswith(("/repos/", "/repositories/", "/users/")):
                return self._web_download(*(unquote(g) for g in web.groups()), headers)

            token, malformed = self._parse_authorization(headers.get("Authorization"))
            if not malformed:
                app_answer = self._app_api_route(method, path, headers, token, common)
                if app_answer is not None:
                    app_answer.headers.extend(self._rate_headers())
                    return app_answer
            if malformed or (token is not None and token not in self._known_tokens()):
                return self._error(401, "Bad credentials", DOCS, common + self._rate_headers())

            if path == "/rate_limit" and method in ("GET", "HEAD"):
                return self._json_response(200, self._rate_limit_json(), common + self._rate_headers(), token)

            # Primary rate limit: one request uses one, refunded below if the answer is a 304.
            now = time.time()
            if now >= self._rate_reset:
                self._rate_remaining = self._rate_limit
                self._rate_reset = int(now) + 3600
            if self._rate_remaining <= 0:
                if token is not None:
                    who = f"user ID {self._user_id_for(token)}"
                    message = f"API rate limit exceeded for {who}."
                else:
                    message = (
                        f"API rate limit exceeded for {client_ip}. (But here's the good news: Authenticated "
                        "requests get a higher rate limit. Check out the documentation for more details.)"
                    )
                message += f" If you reach out to GitHub Support for help, please include the request ID {request_id}."
                return self._error(403, message, RATE_LIMIT_DOCS, common + self._rate_headers())
            self._rate_remaining -= 1

            response = self._route(method, path, query, headers, token, common)
            if response.status == 304:
                self._rate_remaining += 1
            response.headers.extend(self._rate_headers())
            return response

    def _take_fault(self, host: str, target: str) -> Fault | None:
        for fault in self._faults:
            if fault.host == host and fault.remaining > 0 and fault.substring in target:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _error(self, status: int, message: str, doc: str, headers: list[tuple[str, str]]) -> Response:
        body = json_bytes({"message": message, "documentation_url": doc, "status": str(status)})
        return Response(status, [("Content-Type", "application/json; charset=utf-8"), *headers], body)

    def _json_response(
        self,
        status: int,
        payload: Any,
        headers: list[tuple[str, str]],
        token: str | None,
        *,
        revs: Iterable[int] = (),
        request_headers: Any = None,
    ) -> Response:
        body = json_bytes(payload)
        digest = hashlib.sha256(body)
        digest.update(("|" + ",".join(str(r) for r in revs)).encode())
        etag = f'W/"{digest.hexdigest()}"'
        out = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Cache-Control", "private, max-age=60, s-maxage=60" if token else "public, max-age=60, s-maxage=60"),
            ("Vary", VARY),
            ("ETag", etag),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Api-Version-Selected", API_VERSION),
        ]
        if token:
            out += [("X-OAuth-Scopes", "repo"), ("X-Accepted-OAuth-Scopes", "repo")]
        out += headers
        if request_headers is not None and etag_matches(request_headers.get("If-None-Match"), etag):
            keep = {"etag", "cache-control", "vary", "x-github-request-id", "link"}
            return Response(304, [(k, v) for k, v in out if k.lower() in keep])
        return Response(status, out, body)

    def _rate_limit_json(self) -> dict[str, Any]:
        core = {
            "limit": self._rate_limit,
            "used": self._rate_limit - self._rate_remaining,
            "remaining": self._rate_remaining,
            "reset": self._rate_reset,
        }
        reset = int(time.time()) + 60

        def bucket(limit: int) -> dict[str, int]:
            return {"limit": limit, "used": 0, "remaining": limit, "reset": reset}

        return {
            "resources": {
                "core": core,
                "search": bucket(30),
                "graphql": bucket(5000),
                "integration_manifest": bucket(5000),
                "source_import": bucket(100),
                "code_scanning_upload": bucket(1000),
                "actions_runner_registration": bucket(10000),
                "scim": bucket(15000),
                "dependency_snapshots": bucket(100),
                "code_search": bucket(10),
            },
            "rate": dict(core),
        }

    def _find_repo(self, path: str) -> tuple[FakeRepo | None, str, bool]:
        """(repo, rest of path, matched a repo route)."""
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if m:
            return self._repos.get(f"{m.group(1)}/{m.group(2)}".lower()), m.group(3) or "", True
        m = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        if m:
            rid = int(m.group(1))
            repo = next((r for r in self._repos.values() if r.id == rid), None)
            return repo, m.group(2) or "", True
        return None, "", False

    def _route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: Any, token: str | None, common: list
    ) -> Response:
        if method not in ("GET", "HEAD"):
            return self._error(404, "Not Found", DOCS, common)

        if path == "/user":
            if token is None:
                return self._error(401, "Requires authentication", f"{DOCS}/users/users#get-the-authenticated-user",
                                   common)
            user = self._user_json("envelope-ci", self._user_id_for(token))
            return self._json_response(200, user, common, token, request_headers=headers)
        m = re.fullmatch(r"/users/([^/]+)", path)
        if m:
            login = m.group(1)
            if login.lower() == ACTIONS_BOT["login"]:
                return self._json_response(200, self._bot_json(), common, token, request_headers=headers)
            owner = self._owners.get(login.lower())
            if owner is None:
                return self._error(404, "Not Found", DOC_URLS["user"], common)
            name = next(r.owner for r in self._repos.values() if r.owner.lower() == login.lower())
            user = self._user_json(name, owner[0], owner[1])
            return self._json_response(200, user, common, token, request_headers=headers)

        repo, rest, is_repo_route = self._find_repo(path)
        if not is_repo_route:
            return self._error(404, "Not Found", DOCS, common)
        installed = self._installation_grants(token, repo.full_name) if repo is not None else False
        if repo is None or (repo.token is not None and token != repo.token and not installed):
            doc = DOC_URLS["repo"] if rest == "" else DOCS
            return self._error(404, "Not Found", doc, common)
        authorized = repo.token is not None and (token == repo.token or installed)
        drafts_visible = repo.private and authorized

        if rest == "":
            payload = self._repo_json(repo, with_permissions=authorized)
            return self._json_response(200, payload, common, token, revs=[repo.rev], request_headers=headers)

        if rest == "/releases":
            releases = [
                r for r in sorted(repo.releases.values(), key=lambda r: r.id, reverse=True)
                if drafts_visible or not r.draft
            ]
            return self._page(repo, "/releases", releases, query, headers, token, common,
                              lambda r: self._release_json(repo, r), lambda r: r.rev)

        if rest == "/releases/latest":
            latest = next(
                (r for r in sorted(repo.releases.values(), key=lambda r: r.id, reverse=True)
                 if not r.draft and not r.prerelease),
                None,
            )
            if latest is None:
                return self._error(404, "Not Found", DOC_URLS["latest"], common)
            return self._json_response(200, self._release_json(repo, latest), common, token,
                                       revs=[latest.rev], request_headers=headers)

        m = re.fullmatch(r"/releases/tags/(.+)", rest)
        if m:
            tag = m.group(1)
            release = next((r for r in repo.releases.values() if r.tag_name == tag and not r.draft), None)
            if release is None:
                return self._error(404, "Not Found", DOC_URLS["tag"], common)
            return self._json_response(200, self._release_json(repo, release), common, token,
                                       revs=[release.rev], request_headers=headers)

        m = re.fullmatch(r"/releases/assets/(\d+)", rest)
        if m:
            entry = self._asset_index.get(int(m.group(1)))
            if entry is None or entry[0] is not repo or (entry[1].draft and not drafts_visible):
                return self._error(404, "Not Found", DOC_URLS["asset"], common)
            _, release, asset = entry
            if "application/octet-stream" in (headers.get("Accept") or ""):
                location = self._signed_object_url(repo, asset)
                return Response(302, [("Location", location), ("Content-Type", "text/html;charset=utf-8"),
                                       *common])
            return self._json_response(200, self._asset_json(asset), common, token,
                                       revs=[asset.rev], request_headers=headers)

        m = re.fullmatch(r"/releases/(\d+)(/assets)?", rest)
        if m:
            release = repo.releases.get(int(m.group(1)))
            if release is None or (release.draft and not drafts_visible):
                return self._error(404, "Not Found", DOC_URLS["assets" if m.group(2) else "release"], common)
            if m.group(2):
                assets = sorted(release.assets.values(), key=lambda a: a.id)
                return self._page(repo, f"/releases/{release.id}/assets", assets, query, headers, token, common,
                                  self._asset_json, lambda a: a.rev)
            return self._json_response(200, self._release_json(repo, release), common, token,
                                       revs=[release.rev], request_headers=headers)

        return self._error(404, "Not Found", DOCS, common)

    def _page(
        self,
        repo: FakeRepo,
        sub_path: str,
        items: list[Any],
        query: list[tuple[str, str]],
        headers: Any,
        token: str | None,
        common: list[tuple[str, str]],
        render: Callable[[Any], dict[str, Any]],
        rev: Callable[[Any], int],
    ) -> Response:
        params = dict(query)
        try:
            per_page = min(100, max(1, int(params.get("per_page", "30"))))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        base = (
            f"{self.api_url}/repositories/{repo.id}{sub_path}"
            if self.repository_id_links
            else f"{self.api_url}/repos/{repo.full_name}{sub_path}"
        )

        def link(number: int) -> str:
            pairs = [(k, v) for k, v in query if k != "page"] + [("page", str(number))]
            return f"{base}?{urlencode(pairs)}"

        links = []
        if len(items) > per_page or page > 1:
            if page > 1:
                links.append(f'<{link(min(page - 1, last))}>; rel="prev"')
            if page < last:
                links.append(f'<{link(page + 1)}>; rel="next"')
                links.append(f'<{link(last)}>; rel="last"')
            if page > 1:
                links.append(f'<{link(1)}>; rel="first"')
        extra = list(common)
        if links:
            extra.append(("Link", ", ".join(links)))
        payload = [render(item) for item in chunk]
        revs = [rev(item) for item in chunk]
        return self._json_response(200, payload, extra, token, revs=revs, request_headers=headers)

    def _web_download(self, owner: str, name: str, tag: str, filename: str, headers: Any) -> Response:
        """github.com/{owner}/{repo}/releases/download/{tag}/{name}: public releases only."""
        repo = self._repos.get(f"{owner}/{name}".lower())
        not_found = Response(404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found")
        if repo is None or repo.private or repo.token is not None:
            return not_found
        for release in repo.releases.values():
            if release.draft or release.tag_name != tag:
                continue
            for asset in release.assets.values():
                if asset.name == filename:
                    return Response(302, [("Location", self._signed_object_url(repo, asset)),
                                           ("Content-Type", "text/html; charset=utf-8")])
        return not_found
