"""GitHub's App endpoints: the manifest conversion, installations and their
short-lived tokens, the repositories an installation can see. No database.

App authentication (a JWT signed RS256 with the App's private key) and the
installation tokens come from PyGithub's `Auth.AppAuth` / `GithubIntegration`;
the manifest conversion and the repository list are plain requests to the
configured API root; the OAuth code exchange goes to GitHub's web root for
that API (github.com, or the Enterprise server itself).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from collections.abc import Iterator
from typing import Any

import requests

from envelope.errors import EnvelopeError, NotFound
from envelope.github.client import TIMEOUT, GitHubUnavailable, retry

MAX_REPOSITORIES = 1000  # listed per installation: ten pages of GitHub's largest


@dataclass(frozen=True)
class ConvertedApp:
    """What GitHub answers once, when a manifest's code is converted."""

    app_id: int
    slug: str
    name: str
    html_url: str
    owner_login: str | None
    pem: str
    webhook_secret: str
    client_id: str | None
    client_secret: str | None


@dataclass(frozen=True)
class InstallationInfo:
    installation_id: int
    account_login: str
    account_type: str
    created_at: datetime | None
    suspended: bool


def _headers(token: str | None = None) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "envelope-index"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _json(response: requests.Response, what: str) -> Any:
    if response.status_code >= 500:
        raise GitHubUnavailable(f"GitHub answered {response.status_code} for {what}.")
    if response.status_code == 404:
        raise NotFound(f"GitHub has no {what} (or it expired).")
    if response.status_code >= 400:
        raise EnvelopeError(f"GitHub refused {what} ({response.status_code}).")
    try:
        return response.json()
    except ValueError:
        raise GitHubUnavailable(f"GitHub's answer for {what} is not JSON.") from None


def convert_manifest(api_url: str, code: str) -> ConvertedApp:
    """POST /app-manifests/{code}/conversions: the App GitHub made from the
    manifest, with its private key and webhook secret (shown this once)."""
    if not code.isalnum() or len(code) > 100:
        raise EnvelopeError("The code GitHub sent back is malformed; start the App creation again.")
    try:
        response = requests.post(f"{api_url}/app-manifests/{code}/conversions", headers=_headers(),
                                 timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise GitHubUnavailable(f"Cannot reach GitHub to finish creating the App: {exc}") from None
    with response:
        data = _json(response, "App manifest code")
    try:
        return ConvertedApp(
            app_id=int(data["id"]), slug=str(data["slug"]), name=str(data["name"]),
            html_url=str(data["html_url"]), owner_login=(data.get("owner") or {}).get("login"),
            pem=str(data["pem"]), webhook_secret=str(data["webhook_secret"]),
            client_id=data.get("client_id"), client_secret=data.get("client_secret"),
        )
    except (KeyError, TypeError, ValueError):
        raise EnvelopeError("GitHub's answer for the App manifest code lacks the App's id, key or secret.") from None


class AppClient:
    """Calls as the App (a JWT) or as one of its installations (a token minted
    for an hour, never stored). PyGithub is imported on use, as in GitHubClient."""

    def __init__(self, api_url: str, app_id: int, private_key: str) -> None:
        from github import Auth, GithubIntegration

        self.api_url = api_url.rstrip("/")
        self._integration = GithubIntegration(
            auth=Auth.AppAuth(app_id, private_key), base_url=self.api_url, retry=retry(), timeout=TIMEOUT
        )

    def close(self) -> None:
        self._integration.close()

    def _call(self, what: str, fn):
        from github import GithubException

        try:
            return fn()
        except GithubException as exc:
            if exc.status == 404:
                raise NotFound(f"GitHub has no {what}: the App was uninstalled there.") from None
            if exc.status in (401, 403):
                message = (exc.data or {}).get("message") if isinstance(exc.data, dict) else None
                raise EnvelopeError(f"GitHub refused {what} ({exc.status}{': ' + message if message else ''}).") from None
            raise GitHubUnavailable(f"GitHub answered {exc.status} for {what}.") from None
        except requests.RequestException as exc:
            raise GitHubUnavailable(f"Cannot reach GitHub for {what}: {exc}") from None

    def installation(self, installation_id: int) -> InstallationInfo:
        def fetch() -> InstallationInfo:
            found = self._integration.get_app_installation(installation_id)
            raw = found.raw_data
            account = raw.get("account") or {}
            return InstallationInfo(
                installation_id=int(raw["id"]), account_login=str(account.get("login", "")),
                account_type=str(account.get("type") or raw.get("target_type") or "User"),
                created_at=found.created_at, suspended=bool(raw.get("suspended_at")),
            )

        return self._call(f"installation {installation_id}", fetch)

    def installation_token(self, installation_id: int) -> str:
        """A token for the installation's repositories, valid for an hour."""
        return self._call(
            f"a token for installation {installation_id}",
            lambda: self._integration.get_access_token(installation_id).token,
        )


def _pages(api_url: str, path: str, token: str, key: str, what: str, reaching: str) -> Iterator[dict]:
    """The items under `key` of every page of a GitHub list (at most
    MAX_REPOSITORIES), following `next` links on the API root only: a link
    is the answer's, not ours."""
    root = api_url.rstrip("/")
    url: str | None = f"{root}{path}?per_page=100"
    seen = 0
    with requests.Session() as http:
        http.mount("http://", requests.adapters.HTTPAdapter(max_retries=retry()))
        http.mount("https://", requests.adapters.HTTPAdapter(max_retries=retry()))
        while url and seen < MAX_REPOSITORIES:
            try:
                response = http.get(url, headers=_headers(token), timeout=TIMEOUT, allow_redirects=False)
            except requests.RequestException as exc:
                raise GitHubUnavailable(f"Cannot reach GitHub {reaching}: {exc}") from None
            with response:
                items = _json(response, what).get(key, [])
                url = response.links.get("next", {}).get("url")
            seen += len(items)
            yield from items
            if url and not url.startswith(root + "/"):
                url = None


def installation_repositories(api_url: str, token: str) -> list[str]:
    """Full names (lowercased) of the repositories the installation can see."""
    return [str(r["full_name"]).lower() for r in _pages(
        api_url, "/installation/repositories", token, "repositories",
        "repository list of the installation", "for the installation's repositories")]


def user_installations(api_url: str, web_url: str, client_id: str, client_secret: str, code: str) -> set[int]:
    """The installations of the App that the GitHub user who was given `code`
    may manage: the code is traded for a user token (used for this one
    listing, then dropped), which lists them (GET /user/installations)."""
    if not code.isalnum() or len(code) > 100:
        raise EnvelopeError("The code GitHub sent back is malformed; install the App again from the repositories page.")
    try:
        traded = requests.post(f"{web_url.rstrip('/')}/login/oauth/access_token", timeout=TIMEOUT,
                               data={"client_id": client_id, "client_secret": client_secret, "code": code},
                               headers={"Accept": "application/json", "User-Agent": "envelope-index"},
                               allow_redirects=False)
    except requests.RequestException as exc:
        raise GitHubUnavailable(f"Cannot reach GitHub to check who installed the App: {exc}") from None
    with traded:
        token = _json(traded, "OAuth code").get("access_token")
    if not token:  # GitHub answers 200 with an "error" field for a used, expired or foreign code
        raise EnvelopeError("GitHub did not accept the sign-in code it sent back (used or expired); "
                            "install the App again from the repositories page.")
    return {int(i["id"]) for i in _pages(api_url, "/user/installations", token, "installations",
                                         "installations of the signed-in GitHub user",
                                         "to check who installed the App")}
