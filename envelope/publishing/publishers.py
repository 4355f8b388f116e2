"""Trusted publishers: which GitHub Actions workflow may mint which tokens
of an organization, and the one rule that matches a token's claims to them."""
from __future__ import annotations

import re
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.errors import Conflict, InvalidInput, NotFound
from envelope.github.repositories import parse_full_name
from envelope.models import AccessToken, Organization, TokenScope, TrustedPublisher
from envelope.models.base import utcnow
from envelope.names import normalize
from envelope.orgs.identity import bump_auth_epoch
from envelope.publishing.verification import GitHubClaims

# A file directly in .github/workflows/ (GitHub runs no other): the name alone.
WORKFLOW_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.ya?ml")
MAX_ENVIRONMENT = 255  # characters, GitHub's limit on environment names
MAX_PROJECTS = 100


def parse_workflow(text: str) -> str:
    """'release.yml' as it is; InvalidInput for a path or another extension."""
    name = text.strip()
    if not WORKFLOW_FILE.fullmatch(name):
        raise InvalidInput(
            f"Invalid workflow {text!r}: give the file name in .github/workflows/ alone, e.g. release.yml."
        )
    return name


def parse_environment(text: str | None) -> str:
    """A GitHub environment name, lowercased (GitHub ignores its case); "" for any."""
    name = (text or "").strip()
    if len(name) > MAX_ENVIRONMENT or any(c in name for c in "\n\r\t,'\"`;:<>|\\/"):
        raise InvalidInput(f"Invalid environment {text!r}: use the environment's name as GitHub shows it.")
    return name.lower()


def _projects(projects: Iterable[str]) -> list[str]:
    names = [p.strip() for p in projects if p and p.strip()]
    if len(names) > MAX_PROJECTS:
        raise InvalidInput(f"A publisher may name at most {MAX_PROJECTS} projects.")
    return sorted({normalize(name) for name in names})


def add_publisher(
    session: Session,
    organization: Organization,
    *,
    repository: str,
    workflow: str,
    environment: str | None = None,
    projects: Iterable[str] = (),
    scope: str = TokenScope.upload,
    actor: str,
) -> TrustedPublisher:
    """Trust `workflow` of `repository` (in `environment`, if given) to mint
    15-minute tokens of `scope` for `projects` (every project if none).
    Conflict when the organization already trusts that same workflow."""
    if scope not in tuple(TokenScope):
        raise InvalidInput(f"Invalid scope {scope!r}: use one of {', '.join(TokenScope)}.")
    publisher = TrustedPublisher(
        organization_id=organization.id, repository=parse_full_name(repository.strip()),
        workflow=parse_workflow(workflow), environment=parse_environment(environment),
        scope=str(scope), projects=_projects(projects),
    )
    existing = session.scalar(select(TrustedPublisher.id).where(
        TrustedPublisher.organization_id == organization.id,
        TrustedPublisher.repository == publisher.repository, TrustedPublisher.workflow == publisher.workflow,
        TrustedPublisher.environment == publisher.environment, TrustedPublisher.scope == publisher.scope,
    ))
    if existing is not None:
        raise Conflict(f"{organization.name} already trusts {describe(publisher)} (publisher #{existing}).")
    session.add(publisher)
    session.flush()
    record_event(
        session, organization.id, actor, AuditAction.publisher_add, f"publisher #{publisher.id}",
        repository=publisher.repository, workflow=publisher.workflow, environment=publisher.environment or None,
        scope=publisher.scope, projects=publisher.projects or None,
    )
    return publisher


def describe(publisher: TrustedPublisher) -> str:
    """'acme/billing release.yml (environment pypi)': how people name a publisher."""
    where = f" (environment {publisher.environment})" if publisher.environment else ""
    return f"{publisher.repository} {publisher.workflow}{where}"


def list_publishers(session: Session, organization: Organization) -> list[TrustedPublisher]:
    return list(session.scalars(
        select(TrustedPublisher).where(TrustedPublisher.organization_id == organization.id)
        .order_by(TrustedPublisher.id)
    ))


def find_publisher(session: Session, publisher_id: int, organization: Organization | None = None) -> TrustedPublisher:
    """Publisher `publisher_id` (of `organization`, when given: another
    organization's is not confirmed); NotFound otherwise."""
    publisher = session.get(TrustedPublisher, publisher_id)
    if publisher is None or (organization is not None and publisher.organization_id != organization.id):
        where = f" in {organization.name}" if organization is not None else ""
        raise NotFound(f"No trusted publisher #{publisher_id}{where}; `envelope publisher list` shows the ids.")
    return publisher


def remove_publisher(session: Session, publisher: TrustedPublisher, *, actor: str) -> None:
    """Stop trusting the workflow, and revoke the tokens it minted that are
    still live: removing a publisher takes effect on the next request."""
    live = list(session.scalars(select(AccessToken).where(
        AccessToken.publisher_id == publisher.id, AccessToken.revoked.is_(None), AccessToken.expires > utcnow()
    )))
    for token in live:
        token.revoked = utcnow()
    if live:
        bump_auth_epoch(session, publisher.organization_id)
    record_event(session, publisher.organization_id, actor, AuditAction.publisher_remove,
                 f"publisher #{publisher.id}", repository=publisher.repository, workflow=publisher.workflow,
                 revoked_tokens=[t.id for t in live] or None)
    session.delete(publisher)


def workflow_file(claims: GitHubClaims) -> str | None:
    """The workflow file a token's run executes, when it lies in the token's
    own repository: 'owner/repo/.github/workflows/release.yml@refs/tags/v1'
    -> 'release.yml'. None for a workflow of another repository (a reusable
    workflow called from elsewhere), which no publisher of this repository names."""
    path, _, _ref = claims.workflow_ref.partition("@")
    prefix = f"{claims.repository}/.github/workflows/"
    if not path.lower().startswith(prefix):
        return None
    name = path[len(prefix):]
    return name if WORKFLOW_FILE.fullmatch(name) else None


def matching_publishers(session: Session, claims: GitHubClaims) -> list[TrustedPublisher]:
    """Every publisher, of any organization, whose repository, workflow and
    environment the claims satisfy. A publisher without an environment
    accepts any; one whose repository ids were pinned by an earlier exchange
    accepts only the same repository (not a namesake created since)."""
    workflow = workflow_file(claims)
    if workflow is None:
        return []
    candidates = session.scalars(
        select(TrustedPublisher).where(TrustedPublisher.repository == claims.repository,
                                       TrustedPublisher.workflow == workflow)
        .order_by(TrustedPublisher.id)
    )
    return [
        p for p in candidates
        if (not p.environment or p.environment == claims.environment)
        and (p.repository_id is None or p.repository_id == claims.repository_id)
        and (p.repository_owner_id is None or p.repository_owner_id == claims.repository_owner_id)
    ]
