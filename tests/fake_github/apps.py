"""GitHub Apps: the manifest flow, App (JWT) and installation-token auth, and
the App's webhooks, as GitHub serves and sends them.

* Web host: ``POST /settings/apps/new?state=S`` (or ``/organizations/{org}/settings/apps/new``)
  with the form field ``manifest`` answers as GitHub does once the person clicks "Create
  GitHub App": ``302`` to the manifest's ``redirect_url`` with ``?code=…&state=S``.
  ``GET /apps/{slug}/installations/new?state=S`` installs the App on the account the test
  prepared (``prepare_installation``), delivers the ``installation`` webhook, then
  redirects to the manifest's ``setup_url`` with ``installation_id``, ``setup_action`` and ``state``;
  with ``request_oauth_on_install`` in the manifest, to its first ``callback_urls`` entry instead,
  adding an OAuth ``code`` for the GitHub user who installed it. ``POST /login/oauth/access_token``
  trades that code (once, with the App's client id and secret) for a user token (``ghu_…``).
* API: ``POST /app-manifests/{code}/conversions`` (no auth; the code works once, for an hour);
  ``GET /app``, ``GET /app/installations``, ``GET /app/installations/{id}`` and
  ``POST /app/installations/{id}/access_tokens`` with a JWT (RS256, checked against the App's
  public key; ``iss`` the App id or client id; ``iat``/``exp`` at most 10 minutes apart and
  not expired); ``GET /installation/repositories`` with an installation token (``ghs_…``,
  one hour), which also opens the installation's repositories on the repository routes;
  ``GET /user/installations`` with a user token: the installations that user may manage.
* Webhooks: installation, installation_repositories and release events are POSTed to the
  App's webhook URL, signed with its webhook secret (``X-Hub-Signature-256``), with
  ``X-GitHub-Hook-Installation-Target-Type: integration``.
"""
from __future__ import annotations

import itertools
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from tests.fake_github.payloads import release_event_payload, webhook_body, webhook_headers
from tests.fake_github.records import DOCS, Response, iso, node_id

APP_DOCS = f"{DOCS}/apps/apps"
JWT_MAX_LIFETIME = 600  # seconds: GitHub refuses a JWT whose exp is more than 10 minutes after iat
CLOCK_DRIFT = 60  # seconds of leeway GitHub allows on iat
INSTALLATION_TOKEN_LIFETIME = 3600  # seconds


@dataclass
class FakeApp:
    id: int
    slug: str
    name: str
    owner: str
    owner_type: str
    manifest: dict[str, Any]
    pem: str
    public_key: Any
    webhook_secret: str
    client_id: str
    client_secret: str
    created_at: datetime


@dataclass
class FakeInstallation:
    id: int
    account: str
    account_type: str
    repos: list[str]  # full names, as added
    created_at: datetime
    suspended_at: datetime | None = None
    managers: set[str] = field(default_factory=set)  # GitHub users who may manage it (its installer)


@dataclass
class InstallationToken:
    installation_id: int
    expires: float


@dataclass
class AppsState:
    app: FakeApp | None = None
    codes: dict[str, tuple[dict[str, Any], str, str, float]] = field(default_factory=dict)
    installations: dict[int, FakeInstallation] = field(default_factory=dict)
    tokens: dict[str, InstallationToken] = field(default_factory=dict)
    prepared: tuple[str, str, list[str], str] | None = None  # account, type, repos, installing user
    oauth_codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # code -> (user, expires)
    user_tokens: dict[str, str] = field(default_factory=dict)  # ghu_ token -> user
    deliveries: list[tuple[str, str, int]] = field(default_factory=list)  # (event, action, status)
    jwt_refusals: list[str] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1_200_001))
    installation_ids: Any = field(default_factory=lambda: itertools.count(58_000_001))


class AppsMixin:
    """Part of FakeGitHub: GitHub Apps."""

    @property
    def _apps(self) -> AppsState:
        state = self.__dict__.get("_apps_state")
        if state is None:
            state = self.__dict__["_apps_state"] = AppsState()
        return state

    # ------------------------------------------------------------------ what a test does

    @property
    def app(self) -> FakeApp | None:
        return self._apps.app

    def prepare_installation(self, account: str, repos: list[str], *, account_type: str = "Organization",
                             installer: str = "octo-admin") -> None:
        """What the next visit of ``/apps/{slug}/installations/new`` installs: on ``account``,
        with access to the repositories ``repos`` (full names of the fake's repos), by the
        GitHub user ``installer``."""
        with self._lock:
            self._apps.prepared = (account, account_type, list(repos), installer)

    def oauth_code(self, user: str) -> str:
        """An OAuth code for ``user``, as GitHub gives one to anyone who authorizes the App:
        what a person who did not install an installation can still get."""
        with self._lock:
            code = secrets.token_hex(10)
            self._apps.oauth_codes[code] = (user, time.time() + 600)
            return code

    def installation(self, installation_id: int) -> FakeInstallation:
        return self._apps.installations[installation_id]

    def installation_tokens(self) -> list[str]:
        with self._lock:
            return list(self._apps.tokens)

    def expire_installation_tokens(self) -> None:
        with self._lock:
            for token in self._apps.tokens.values():
                token.expires = 0

    def app_deliveries(self) -> list[tuple[str, str, int]]:
        """(event, action, status Envelope answered) of every App webhook delivered so far."""
        with self._lock:
            return list(self._apps.deliveries)

    def installation_event(self, installation_id: int, action: str) -> dict[str, Any]:
        """GitHub's ``installation`` payload for the installation as it is now."""
        with self._lock:
            return self._installation_event_payload(self._apps.installations[installation_id], action)

    def add_installation_repos(self, installation_id: int, repos: list[str]) -> requests.Response:
        with self._lock:
            inst = self._apps.installations[installation_id]
            inst.repos.extend(r for r in repos if r not in inst.repos)
            payload = self._installation_repositories_payload(inst, "added", repos)
        return self.deliver_app_webhook("installation_repositories", payload)

    def remove_installation_repos(self, installation_id: int, repos: list[str]) -> requests.Response:
        with self._lock:
            inst = self._apps.installations[installation_id]
            inst.repos[:] = [r for r in inst.repos if r.lower() not in {x.lower() for x in repos}]
            payload = self._installation_repositories_payload(inst, "removed", repos)
        return self.deliver_app_webhook("installation_repositories", payload)

    def uninstall(self, installation_id: int) -> requests.Response:
        with self._lock:
            inst = self._apps.installations.pop(installation_id)
            for token, held in list(self._apps.tokens.items()):
                if held.installation_id == installation_id:
                    del self._apps.tokens[token]
            payload = self._installation_event_payload(inst, "deleted")
        return self.deliver_app_webhook("installation", payload)

    def suspend(self, installation_id: int, suspended: bool = True) -> requests.Response:
        with self._lock:
            inst = self._apps.installations[installation_id]
            inst.suspended_at = self._tick() if suspended else None
            payload = self._installation_event_payload(inst, "suspend" if suspended else "unsuspend")
        return self.deliver_app_webhook("installation", payload)

    def app_release_event(self, installation_id: int, full_name: str, release: Any,
                          action: str = "published") -> requests.Response:
        """The ``release`` event as the App's webhook receives it (with ``installation``)."""
        payload = release_event_payload(self, full_name, release, action=action)
        payload["installation"] = {"id": installation_id, "node_id": node_id("Integration::Installation",
                                                                             installation_id)}
        return self.deliver_app_webhook("release", payload)

    def app_webhook_request(self, event: str, payload: dict[str, Any], *, secret: str | None = None,
                            delivery: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers GitHub would POST to the App's webhook URL, signed with the
        App's webhook secret (or ``secret``)."""
        app = self._apps.app
        if app is None:
            raise RuntimeError("no App: run the manifest flow first")
        body = webhook_body(payload)
        headers = webhook_headers(event, delivery or str(uuid.uuid4()), secret or app.webhook_secret, body,
                                  hook_id=app.id, target_id=app.id)
        headers["X-GitHub-Hook-Installation-Target-Type"] = "integration"
        return body, headers

    def deliver_app_webhook(self, event: str, payload: dict[str, Any], *, secret: str | None = None,
                            delivery: str | None = None) -> requests.Response | None:
        """POST ``payload`` to the App's webhook URL, as GitHub does; None when nothing
        answers there (GitHub records a failed delivery and goes on)."""
        body, headers = self.app_webhook_request(event, payload, secret=secret, delivery=delivery)
        try:
            response = requests.post(self._apps.app.manifest["hook_attributes"]["url"], data=body,
                                     headers=headers, timeout=30)
        except requests.RequestException:
            response = None
        with self._lock:
            self._apps.deliveries.append((event, str(payload.get("action")),
                                          response.status_code if response is not None else 0))
        return response

    # ------------------------------------------------------------------ web host (github.com)

    def _app_web_route(self, method: str, path: str, query: dict[str, str], form: dict[str, str]
                       ) -> tuple[Response, tuple[str, dict[str, Any]] | None] | None:
        """(response, webhook to deliver before answering) for the App pages; None: not one."""
        m = re.fullmatch(r"(?:/organizations/([^/]+))?/settings/apps/new", path)
        if m and method == "POST":
            return self._manifest_submitted(m.group(1), query, form), None
        m = re.fullmatch(r"/apps/([^/]+)/installations/new", path)
        if m and method == "GET":
            return self._install(m.group(1), query)
        if path == "/login/oauth/access_token" and method == "POST":
            return self._user_token(form), None
        return None

    def _user_token(self, form: dict[str, str]) -> Response:
        """GitHub answers 200 with an ``error`` field when the exchange fails."""
        app = self._apps.app
        if app is None or form.get("client_id") != app.client_id or form.get("client_secret") != app.client_secret:
            body = {"error": "incorrect_client_credentials",
                    "error_description": "The client_id and/or client_secret passed are incorrect."}
        elif (entry := self._apps.oauth_codes.pop(form.get("code", ""), None)) is None or entry[1] < time.time():
            body = {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
        else:
            token = "ghu_" + secrets.token_hex(18)
            self._apps.user_tokens[token] = entry[0]
            body = {"access_token": token, "token_type": "bearer", "scope": ""}
        return Response(200, [("Content-Type", "application/json; charset=utf-8")], json.dumps(body).encode())

    def _manifest_submitted(self, org: str | None, query: dict[str, str], form: dict[str, str]) -> Response:
        try:
            manifest = json.loads(form.get("manifest", ""))
            redirect_url = manifest["redirect_url"]
            manifest["hook_attributes"]["url"]
        except (ValueError, KeyError, TypeError):
            return _page(422, "Invalid GitHub App configuration: the manifest is missing or malformed.")
        code = secrets.token_hex(10)
        self._apps.codes[code] = (manifest, org or "octo-admin", "Organization" if org else "User",
                                  time.time() + 3600)
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        return Response(302, [("Location", _with_query(redirect_url, params))])

    def _install(self, slug: str, query: dict[str, str]) -> tuple[Response, tuple[str, dict[str, Any]] | None]:
        app = self._apps.app
        if app is None or app.slug != slug:
            return _page(404, "Not Found"), None
        if self._apps.prepared is None:
            return _page(400, "The test did not prepare_installation()."), None
        account, account_type, repos, installer = self._apps.prepared
        self._apps.prepared = None
        existing = next((i for i in self._apps.installations.values() if i.account.lower() == account.lower()),
                        None)
        if existing is None:
            inst = FakeInstallation(next(self._apps.installation_ids), account, account_type, list(repos),
                                    self._tick())
            self._apps.installations[inst.id] = inst
            action, webhook = "install", ("installation", self._installation_event_payload(inst, "created"))
        else:
            inst, action, webhook = existing, "update", None
        inst.managers.add(installer)
        params = {"installation_id": str(inst.id), "setup_action": action}
        if "state" in query:
            params["state"] = query["state"]
        back = app.manifest["setup_url"]
        if app.manifest.get("request_oauth_on_install"):  # GitHub then ignores setup_url
            back = app.manifest["callback_urls"][0]
            code = secrets.token_hex(10)
            self._apps.oauth_codes[code] = (installer, time.time() + 600)
            params = {"code": code, **params}
        return Response(302, [("Location", _with_query(back, params))]), webhook

    # ------------------------------------------------------------------ API host

    def _app_api_route(self, method: str, path: str, headers: Any, token: str | None,
                       common: list[tuple[str, str]]) -> Response | None:
        """The App endpoints; None when ``path`` is not one of them."""
        m = re.fullmatch(r"/app-manifests/([^/]+)/conversions", path)
        if m:
            return self._convert(method, m.group(1), common) if method == "POST" else self._not_found(common)
        if path == "/installation/repositories" and method == "GET":
            return self._installation_repositories(token, common)
        if path == "/user/installations" and method == "GET":
            user = self._apps.user_tokens.get(token or "")
            if user is None:
                return self._error(401, "Bad credentials", DOCS, common)
            mine = [self._installation_json(i) for i in self._apps.installations.values() if user in i.managers]
            return self._json_response(200, {"total_count": len(mine), "installations": mine}, common, None)
        if path != "/app" and not path.startswith("/app/"):
            return None
        app, refusal = self._verify_jwt(token)
        if app is None:
            return self._error(401, refusal, DOCS, common)
        if path == "/app" and method == "GET":
            return self._json_response(200, self._app_json(app), common, None)
        if path == "/app/installations" and method == "GET":
            installs = [self._installation_json(i) for i in self._apps.installations.values()]
            return self._json_response(200, installs, common, None)
        m = re.fullmatch(r"/app/installations/(\d+)(/access_tokens)?", path)
        if m:
            inst = self._apps.installations.get(int(m.group(1)))
            if inst is None:
                return self._error(404, "Not Found", f"{APP_DOCS}#get-an-installation-for-the-authenticated-app",
                                   common)
            if not m.group(2) and method == "GET":
                return self._json_response(200, self._installation_json(inst), common, None)
            if m.group(2) and method == "POST":
                if inst.suspended_at is not None:
                    return self._error(403, "This installation has been suspended", DOCS, common)
                token = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36]
                expires = time.time() + INSTALLATION_TOKEN_LIFETIME
                self._apps.tokens[token] = InstallationToken(inst.id, expires)
                body = {
                    "token": token,
                    "expires_at": iso(datetime.fromtimestamp(expires, timezone.utc)),
                    "permissions": {"contents": "read", "metadata": "read"},
                    "repository_selection": "selected",
                }
                return self._json_response(201, body, common, None)
        return self._not_found(common)

    def _not_found(self, common: list[tuple[str, str]]) -> Response:
        return self._error(404, "Not Found", DOCS, common)

    def _convert(self, method: str, code: str, common: list[tuple[str, str]]) -> Response:
        entry = self._apps.codes.pop(code, None)
        if entry is None or entry[3] < time.time():
            return self._error(404, "Not Found", f"{APP_DOCS}#create-a-github-app-from-a-manifest", common)
        manifest, owner, owner_type, _ = entry
        if self._apps.app is not None:
            return self._error(422, "Validation Failed: Name is already in use", DOCS, common)
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
        name = manifest.get("name") or "envelope"
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        app = FakeApp(
            id=next(self._apps.ids), slug=slug, name=name, owner=owner, owner_type=owner_type, manifest=manifest,
            pem=pem, public_key=key.public_key(), webhook_secret=secrets.token_hex(20),
            client_id="Iv23li" + secrets.token_hex(7), client_secret=secrets.token_hex(20), created_at=self._tick(),
        )
        self._apps.app = app
        body = {**self._app_json(app), "client_id": app.client_id, "client_secret": app.client_secret,
                "webhook_secret": app.webhook_secret, "pem": app.pem}
        return self._json_response(201, body, common, None)

    def _verify_jwt(self, token: str | None) -> tuple[FakeApp | None, str]:
        import jwt

        app = self._apps.app
        refusal = "A JSON web token could not be decoded"
        if token is None or app is None:
            return None, refusal
        try:
            claims = jwt.decode(token, app.public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"], "verify_iat": False}, leeway=0)
        except jwt.ExpiredSignatureError:
            return self._refuse_jwt("'Expiration time' claim ('exp') must be a numeric value representing the "
                                    "future time at which the assertion expires")
        except jwt.PyJWTError:
            return self._refuse_jwt(refusal)
        now = time.time()
        if claims["iat"] > now + CLOCK_DRIFT:
            return self._refuse_jwt("'Issued at' claim ('iat') must be an Integer representing the time that "
                                    "the assertion was issued")
        if claims["exp"] - claims["iat"] > JWT_MAX_LIFETIME:
            return self._refuse_jwt("'Expiration time' claim ('exp') is too far in the future")
        if str(claims["iss"]) not in (str(app.id), app.client_id):
            return self._refuse_jwt("'Issuer' claim ('iss') must be an Integer")
        return app, ""

    def _refuse_jwt(self, message: str) -> tuple[None, str]:
        self._apps.jwt_refusals.append(message)
        return None, message

    def _installation_for_token(self, token: str | None) -> FakeInstallation | None:
        held = self._apps.tokens.get(token or "")
        if held is None or held.expires < time.time():
            return None
        return self._apps.installations.get(held.installation_id)

    def _installation_grants(self, token: str | None, full_name: str) -> bool:
        inst = self._installation_for_token(token)
        return inst is not None and inst.suspended_at is None and \
            full_name.lower() in {r.lower() for r in inst.repos}

    def _is_installation_token(self, token: str | None) -> bool:
        return self._installation_for_token(token) is not None

    def _installation_repositories(self, token: str | None, common: list[tuple[str, str]]) -> Response:
        inst = self._installation_for_token(token)
        if inst is None:
            return self._error(401, "Bad credentials", DOCS, common)
        repos = [self._repo_json(self.repo(name)) for name in inst.repos]
        body = {"total_count": len(repos), "repository_selection": "selected", "repositories": repos}
        return self._json_response(200, body, common, token)

    # ------------------------------------------------------------------ shapes

    def _app_json(self, app: FakeApp) -> dict[str, Any]:
        owner = self._user_json(app.owner, 90_500_000 + app.id % 1000, app.owner_type)
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("Integration", app.id),
            "client_id": app.client_id,
            "owner": owner,
            "name": app.name,
            "description": app.manifest.get("description"),
            "external_url": app.manifest.get("url"),
            "html_url": f"{self.web_url}/apps/{app.slug}",
            "created_at": iso(app.created_at),
            "updated_at": iso(app.created_at),
            "permissions": dict(app.manifest.get("default_permissions") or {}),
            "events": list(app.manifest.get("default_events") or []),
            "installations_count": len(self._apps.installations),
        }

    def _installation_json(self, inst: FakeInstallation) -> dict[str, Any]:
        app = self._apps.app
        account_id = self._owners.get(inst.account.lower(), (95_000_000 + inst.id % 1000,))[0]
        return {
            "id": inst.id,
            "client_id": app.client_id,
            "account": self._user_json(inst.account, account_id, inst.account_type),
            "repository_selection": "selected",
            "access_tokens_url": f"{self.api_url}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api_url}/installation/repositories",
            "html_url": f"{self.web_url}/organizations/{inst.account}/settings/installations/{inst.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "target_id": account_id,
            "target_type": inst.account_type,
            "permissions": {"contents": "read", "metadata": "read"},
            "events": list(app.manifest.get("default_events") or []),
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None if inst.suspended_at is None else self._user_json(inst.account, account_id),
            "suspended_at": iso(inst.suspended_at),
        }

    def _short_repo(self, full_name: str) -> dict[str, Any]:
        repo = self.repo(full_name)
        return {"id": repo.id, "node_id": repo.node_id, "name": repo.name, "full_name": repo.full_name,
                "private": repo.private}

    def _installation_event_payload(self, inst: FakeInstallation, action: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"action": action, "installation": self._installation_json(inst)}
        if action in ("created", "deleted"):
            payload["repositories"] = [self._short_repo(r) for r in inst.repos]
        payload["requester"] = None
        payload["sender"] = self._user_json(inst.account, self._installation_json(inst)["target_id"],
                                            "User")
        return payload

    def _installation_repositories_payload(self, inst: FakeInstallation, action: str,
                                           repos: list[str]) -> dict[str, Any]:
        short = [self._short_repo(r) for r in repos]
        return {
            "action": action,
            "installation": self._installation_json(inst),
            "repository_selection": "selected",
            "repositories_added": short if action == "added" else [],
            "repositories_removed": short if action == "removed" else [],
            "requester": None,
            "sender": self._user_json(inst.account, self._installation_json(inst)["target_id"], "User"),
        }


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _page(status: int, text: str) -> Response:
    return Response(status, [("Content-Type", "text/html; charset=utf-8")], f"<p>{text}</p>".encode())


__all__ = ["AppsMixin", "FakeApp", "FakeInstallation"]
