"""Repository connections: which GitHub repository feeds which organization."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.orgs.capabilities import DEPLOY_TOKEN
from envelope.orgs.identity import Caller, Restriction
from envelope.errors import Conflict, InvalidInput, NotFound
from envelope.models import GitHubInstallation, Organization, RepositoryConnection, RunStatus, RunTrigger, SyncRun, TaskName
from envelope.models.base import utcnow
from envelope.names import normalize
from envelope.outbox import enqueue
from envelope.sealing import seal, unseal

# GitHub's rules: owners 1-39 of [A-Za-z0-9-], repositories 1-100 of [A-Za-z0-9._-].
FULL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


def parse_full_name(text: str) -> str:
    """'Acme/Billing' -> 'acme/billing'; InvalidInput unless it is OWNER/REPO."""
    if not FULL_NAME.fullmatch(text) or text.endswith((".git", "/.", "/..")):
        raise InvalidInput(f"Invalid GitHub repository {text!r}: expected OWNER/REPO.")
    return text.lower()


@dataclass(frozen=True)
class NewConnection:
    connection: RepositoryConnection
    webhook_secret: str | None  # shown once; None through the App, whose webhook covers it


def add_repository(
    session: Session,
    secret_key: str,
    organization: Organization,
    full_name: str,
    *,
    github_token: str | None,
    projects: list[str] | tuple[str, ...] = (),
    actor: str,
    installation: GitHubInstallation | None = None,
) -> NewConnection:
    """Connect `full_name` to `organization`: with a webhook secret of its own
    (and an optional token), or through the App's `installation`, which
    needs neither."""
    name = parse_full_name(full_name)
    # Only this organization's connections count: another organization may
    # connect the same repository, and saying so would confirm theirs.
    if session.scalar(
        select(RepositoryConnection.id).where(
            RepositoryConnection.organization_id == organization.id, RepositoryConnection.full_name == name
        )
    ):
        raise Conflict(
            f"{name} is already connected to {organization.name}; "
            f"`envelope repo remove --org {organization.name} {name}` first."
        )
    webhook_secret = None if installation is not None else secrets.token_urlsafe(32)
    connection = RepositoryConnection(
        organization_id=organization.id,
        full_name=name,
        allowed_projects=sorted({normalize(p) for p in projects}),
        github_token_sealed=seal(secret_key, github_token) if github_token else None,
        webhook_secret_sealed=seal(secret_key, webhook_secret) if webhook_secret else None,
        installation_id=installation.id if installation is not None else None,
    )
    session.add(connection)
    session.flush()
    record_event(session, organization.id, actor, AuditAction.repo_add, name, projects=list(projects) or None,
                 private=bool(github_token) or None,
                 app_installation=installation.account_login if installation is not None else None)
    return NewConnection(connection, webhook_secret)


def find_connection(session: Session, full_name: str, org_name: str | None = None) -> RepositoryConnection:
    """The connection of `full_name` for the operator's CLI: the one of
    `org_name` when given; otherwise the only one, and InvalidInput naming
    the organizations when several have connected the repository."""
    query = select(RepositoryConnection).where(RepositoryConnection.full_name == full_name.lower())
    if org_name is not None:
        query = query.join(Organization).where(Organization.name == org_name)
    connections = list(session.scalars(query.order_by(RepositoryConnection.id)))
    if not connections:
        where = f" to {org_name}" if org_name is not None else ""
        raise NotFound(f"{full_name} is not connected{where}; `envelope repo add` connects it.")
    if len(connections) > 1:
        names = ", ".join(sorted(c.organization.name for c in connections))
        raise InvalidInput(f"{full_name} is connected to several organizations ({names}): choose one with --org.")
    return connections[0]


def list_repositories(session: Session, organization: Organization) -> list[RepositoryConnection]:
    return list(
        session.scalars(
            select(RepositoryConnection)
            .where(RepositoryConnection.organization_id == organization.id)
            .order_by(RepositoryConnection.full_name)
        )
    )


def remove_repository(session: Session, full_name: str, *, actor: str, org_name: str | None = None) -> None:
    """Disconnect `full_name` (of `org_name`; see find_connection)."""
    remove_connection(session, find_connection(session, full_name, org_name), actor=actor)


def remove_connection(session: Session, connection: RepositoryConnection, *, actor: str) -> None:
    record_event(session, connection.organization_id, actor, AuditAction.repo_remove, connection.full_name)
    session.delete(connection)


def connection_principal(connection: RepositoryConnection) -> Caller:
    """A repository publishes as itself: any version of its allowed projects."""
    restrictions = None
    if connection.allowed_projects:
        restrictions = tuple(Restriction(p, SpecifierSet()) for p in connection.allowed_projects)
    return Caller(
        organization_id=connection.organization_id,
        label=f"github {connection.full_name}",
        capabilities=DEPLOY_TOKEN,  # the index and uploads, like a deploy token
        restrictions=restrictions,
        noun=f"Repository {connection.full_name}",
    )


def github_token(connection: RepositoryConnection, secret_key: str) -> str | None:
    sealed = connection.github_token_sealed
    return unseal(secret_key, sealed) if sealed else None


def webhook_secret(connection: RepositoryConnection, secret_key: str) -> str | None:
    sealed = connection.webhook_secret_sealed
    return unseal(secret_key, sealed) if sealed else None


def find_org_connection(session: Session, organization: Organization, full_name: str) -> RepositoryConnection:
    """The connection of `full_name` if it belongs to `organization`; NotFound
    otherwise (another organization's connection is not confirmed)."""
    connection = session.scalar(
        select(RepositoryConnection).where(
            RepositoryConnection.full_name == full_name.lower(),
            RepositoryConnection.organization_id == organization.id,
        )
    )
    if connection is None:
        raise NotFound(f"{full_name} is not connected to {organization.name}.")
    return connection


def queue_manual_sync(session: Session, connection: RepositoryConnection, *, actor: str) -> SyncRun:
    """A run over every release, queued through the outbox in this transaction.
    While a manual run is still queued or running, that run is returned
    instead of a second one."""
    pending = session.scalar(
        select(SyncRun).where(
            SyncRun.connection_id == connection.id,
            SyncRun.trigger == RunTrigger.manual,
            SyncRun.status.in_((RunStatus.queued, RunStatus.running)),
        )
    )
    if pending is not None:
        return pending
    run = new_manual_run(session, connection, actor=actor)
    enqueue(session, TaskName.ingest_run, run_id=run.id)
    return run


def new_manual_run(session: Session, connection: RepositoryConnection, *, actor: str) -> SyncRun:
    """A manual run over every release, with its audit event: the one place
    a manual sync starts, whether the worker runs it (web, API) or the
    operator's terminal does (`envelope sync`)."""
    run = SyncRun(connection_id=connection.id, trigger=RunTrigger.manual, queued_at=utcnow())
    session.add(run)
    session.flush()
    record_event(session, connection.organization_id, actor, AuditAction.repo_sync, connection.full_name, run=run.id)
    return run
