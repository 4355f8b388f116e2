"""The instance's GitHub App: made by GitHub's manifest flow, installed by
organization owners on their GitHub accounts, and the credentials it gives.

One App per instance. Its private key and webhook secret are sealed at rest
(envelope.sealing) and never shown again; assets are fetched with
installation tokens minted for each run, never stored.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.config import Settings
from envelope.db import Database
from envelope.errors import Conflict, EnvelopeError, Forbidden, InvalidInput, NotFound
from envelope.github.repositories import NewConnection, add_repository, github_token, parse_full_name
from envelope.models import (
    ConnectionStatus,
    GitHubApp,
    GitHubInstallation,
    InstallationStatus,
    Organization,
    RepositoryConnection,
)
from envelope.models.base import utcnow
from envelope.sealing import seal, unseal

if TYPE_CHECKING:
    from envelope.github.app_client import AppClient

# An owner binds an installation to their organization when GitHub sends them
# back from installing it; an installation nobody bound within this time
# cannot be claimed by whoever learns its id later.
BIND_WINDOW = timedelta(hours=1)
GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
WEBHOOK_PATH = "/hooks/github/app"
CREATED_PATH = "/admin/github-app/created"
INSTALLED_PATH = "/github-app/installed"


def manifest(settings: Settings, name: str) -> dict:
    """GitHub's App manifest: read access to contents and metadata, the
    release event (installation events come with every App), and where
    GitHub sends people and webhooks back: ENVELOPE_BASE_URL, never a
    request's Host header."""
    base = settings.base_url
    return {
        "name": name,
        "url": base,
        "description": f"Publishes the wheels of GitHub releases to the Envelope index at {base}.",
        "hook_attributes": {"url": base + WEBHOOK_PATH, "active": True},
        "redirect_url": base + CREATED_PATH,
        "setup_url": base + INSTALLED_PATH,
        "setup_on_update": True,
        # GitHub then sends the installing person to the callback URL with an
        # OAuth code, which proves which installations their account manages.
        "request_oauth_on_install": True,
        "callback_urls": [base + INSTALLED_PATH],
        "public": False,
        "default_permissions": {"contents": "read", "metadata": "read"},
        "default_events": ["release"],
    }


def manifest_form_action(settings: Settings, github_org: str | None) -> str:
    """Where the browser POSTs the manifest: the person's account, or a
    GitHub organization they administer."""
    web = settings.github_web_url
    if github_org:
        if not GITHUB_LOGIN.fullmatch(github_org):
            raise InvalidInput(f"Invalid GitHub organization {github_org!r}: letters, digits and hyphens only.")
        return f"{web}/organizations/{github_org}/settings/apps/new"
    return f"{web}/settings/apps/new"


def install_url(settings: Settings, app: GitHubApp) -> str:
    return f"{settings.github_web_url}/apps/{app.slug}/installations/new"


def current_app(session: Session) -> GitHubApp | None:
    return session.scalar(select(GitHubApp).order_by(GitHubApp.id).limit(1))


def create_app(db: Database, settings: Settings, code: str, *, actor: str) -> GitHubApp:
    """Convert the code GitHub sent back into the App and store it, its key
    and webhook secret sealed. Conflict when the instance has an App already
    (checked before GitHub is asked, and again before writing)."""
    with db.read() as session:
        if current_app(session) is not None:
            raise Conflict("This instance has a GitHub App already.")
    from envelope.github.app_client import convert_manifest  # on use: requests, PyGithub (see app_client)

    converted = convert_manifest(settings.github_api_url, code)
    with db.write() as session:
        if current_app(session) is not None:
            raise Conflict("This instance has a GitHub App already.")
        app = GitHubApp(
            app_id=converted.app_id, slug=converted.slug, name=converted.name, html_url=converted.html_url,
            owner_login=converted.owner_login, created_by=actor,
            private_key_sealed=seal(settings.secret_key, converted.pem),
            webhook_secret_sealed=seal(settings.secret_key, converted.webhook_secret),
            client_id=converted.client_id,
            client_secret_sealed=seal(settings.secret_key, converted.client_secret) if converted.client_secret else None,
        )
        session.add(app)
        session.flush()
        record_event(session, None, actor, AuditAction.github_app_create, converted.slug, app_id=converted.app_id)
        return app


def app_client(settings: Settings, app: GitHubApp) -> AppClient:
    """The App's client. app_client.py (requests) is imported on use: every
    web process imports this module for the webhook route, and requests and
    urllib3 are about 4 MB that an instance without an App never needs."""
    from envelope.github.app_client import AppClient

    return AppClient(settings.github_api_url, app.app_id, unseal(settings.secret_key, app.private_key_sealed))


def _require_app(session: Session) -> GitHubApp:
    app = current_app(session)
    if app is None:
        raise NotFound("This instance has no GitHub App: an administrator creates it under Admin › GitHub App.")
    return app


def bind_installation(
    db: Database, settings: Settings, organization_id: int, installation_id: int, *, actor: str,
    oauth_code: str | None,
) -> GitHubInstallation:
    """The installation GitHub just sent an owner back from becomes their
    organization's. Refused when the owner's GitHub account does not manage
    it (the OAuth code GitHub sent back proves which ones it does: the
    installation id in the URL alone proves nothing, anyone can type one),
    when another organization holds it, when GitHub does not know it, or
    when it is older than BIND_WINDOW and unbound."""
    with db.read() as session:
        app = _require_app(session)
    if app.client_id and app.client_secret_sealed:
        from envelope.github.app_client import user_installations  # on use: requests

        if not oauth_code:
            raise InvalidInput("GitHub did not say who installed the App (no code came back); "
                               "install it again from the repositories page.")
        managed = user_installations(settings.github_api_url, settings.github_web_url, app.client_id,
                                     unseal(settings.secret_key, app.client_secret_sealed), oauth_code)
        if installation_id not in managed:
            raise Forbidden(f"Your GitHub account does not manage installation {installation_id} of the App; "
                            "install it from an account that administers the GitHub organization.")
    client = app_client(settings, app)
    try:
        info = client.installation(installation_id)
    finally:
        client.close()
    with db.write() as session:
        row = session.scalar(select(GitHubInstallation).where(GitHubInstallation.installation_id == installation_id))
        if row is not None and row.organization_id not in (None, organization_id):
            raise Conflict(f"The installation on {info.account_login} belongs to another organization of this instance.")
        if (row is None or row.organization_id is None) and info.created_at is not None \
                and utcnow() - info.created_at > BIND_WINDOW:
            raise Forbidden(
                f"The App was installed on {info.account_login} more than an hour ago and nobody connected it; "
                "uninstall it on GitHub and install it again from the repositories page."
            )
        if row is None:
            row = GitHubInstallation(installation_id=installation_id, account_login=info.account_login,
                                     account_type=info.account_type)
            session.add(row)
        row.account_login, row.account_type = info.account_login, info.account_type
        row.status = InstallationStatus.suspended if info.suspended else InstallationStatus.active
        row.updated = utcnow()
        if row.organization_id is None:
            row.organization_id = organization_id
            record_event(session, organization_id, actor, AuditAction.github_app_install, info.account_login,
                         installation=installation_id)
        session.flush()
        return row


def org_installations(session: Session, organization: Organization) -> list[GitHubInstallation]:
    return list(session.scalars(
        select(GitHubInstallation)
        .where(GitHubInstallation.organization_id == organization.id)
        .order_by(GitHubInstallation.account_login)
    ))


def installation_token(db: Database, settings: Settings, installation: GitHubInstallation) -> str:
    """A fresh token of an active installation (GitHub mints it for an hour)."""
    if installation.status != InstallationStatus.active:
        raise EnvelopeError(
            f"The GitHub App installation on {installation.account_login} is {installation.status}: "
            "nothing is fetched through it."
        )
    with db.read() as session:
        app = _require_app(session)
    client = app_client(settings, app)
    try:
        return client.installation_token(installation.installation_id)
    finally:
        client.close()


def available_repositories(db: Database, settings: Settings, installation: GitHubInstallation) -> list[str]:
    """What the installation can see, as GitHub says now."""
    from envelope.github.app_client import installation_repositories

    token = installation_token(db, settings, installation)
    return installation_repositories(settings.github_api_url, token)


def connect_repository(
    db: Database, settings: Settings, organization: Organization, installation_id: int, full_name: str,
    *, projects: list[str], actor: str,
) -> NewConnection:
    """Connect a repository through one of the organization's installations:
    only one GitHub says the installation can see. No token, no secret."""
    name = parse_full_name(full_name)
    with db.read() as session:
        installation = session.scalar(select(GitHubInstallation).where(
            GitHubInstallation.installation_id == installation_id,
            GitHubInstallation.organization_id == organization.id,
        ))
        if installation is None:
            raise NotFound(f"{organization.name} has no GitHub App installation {installation_id}.")
    if name not in available_repositories(db, settings, installation):
        raise Forbidden(f"The App's installation on {installation.account_login} cannot see {name}: "
                        "add it to the installation on GitHub first.")
    with db.write() as session:
        org = session.get(Organization, organization.id)
        return add_repository(session, settings.secret_key, org, name, github_token=None, projects=projects,
                              actor=actor, installation=session.get(GitHubInstallation, installation.id))


def access_token(db: Database, settings: Settings, connection: RepositoryConnection) -> str | None:
    """The credential a sync of `connection` uses: a fresh installation token
    for an App connection, the stored token (or none) otherwise. Raises
    EnvelopeError when the connection is not active (GitHub took the
    repository out of the installation, or the App was uninstalled)."""
    if connection.status != ConnectionStatus.active:
        raise EnvelopeError(f"{connection.full_name} is {connection.status} on GitHub's side: not synced.")
    if connection.installation_id is None:
        return github_token(connection, settings.secret_key)
    with db.read() as session:
        installation = session.get(GitHubInstallation, connection.installation_id)
    return installation_token(db, settings, installation)


def app_status(session: Session, settings: Settings) -> dict:
    """The App and its installations, as `envelope github-app status` shows them
    (no secret: the key and webhook secret stay sealed)."""
    app = current_app(session)
    if app is None:
        return {"app": None, "installations": []}
    rows = session.execute(
        select(GitHubInstallation, Organization.name)
        .outerjoin(Organization, Organization.id == GitHubInstallation.organization_id)
        .order_by(GitHubInstallation.account_login)
    ).all()
    counts = dict(session.execute(
        select(RepositoryConnection.installation_id, func.count())
        .where(RepositoryConnection.installation_id.is_not(None))
        .group_by(RepositoryConnection.installation_id)
    ).all())
    return {
        "app": {"app_id": app.app_id, "slug": app.slug, "name": app.name, "html_url": app.html_url,
                "owner": app.owner_login, "created": app.created.isoformat(), "created_by": app.created_by},
        "webhook_url": settings.base_url + WEBHOOK_PATH,
        "install_url": install_url(settings, app),
        "installations": [
            {"installation_id": row.installation_id, "account": row.account_login, "status": row.status,
             "organization": org_name, "connections": counts.get(row.id, 0)}
            for row, org_name in rows
        ],
    }
