"""Mint and burn: an OIDC token of a trusted workflow becomes an ordinary
`envl_` token of the publisher's organization, scope and projects, for
15 minutes; uv burns it as soon as its upload is done."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.db import Database
from envelope.errors import MintRefused
from envelope.models import AccessToken, OidcTokenUse
from envelope.models.base import utcnow
from envelope.orgs.identity import bump_auth_epoch
from envelope.orgs.tokens import find_token_row, issue_token
from envelope.publishing.issuer import IssuerKeys
from envelope.publishing.publishers import matching_publishers, workflow_file
from envelope.publishing.verification import GitHubClaims, verify_token

MINTED_LIFETIME = timedelta(minutes=15)
# Minted tokens stay listed (revoked or expired) this long after they stop
# working, then housekeeping deletes them: a busy CI mints one per job. The
# audit log keeps each one's token.mint event with the run that minted it.
SPENT_TOKEN_RETENTION = timedelta(days=7)
BURNT_BY = "trusted publishing (burn-token)"


@dataclass(frozen=True)
class MintedToken:
    secret: str
    expires: datetime
    token_id: int
    publisher_id: int


def mint_token(db: Database, keys: IssuerKeys, oidc_token: object, *, audience: str) -> MintedToken:
    """Exchange a GitHub Actions OIDC token for a 15-minute access token.

    The token is verified first (verify_token: signature, issuer, audience,
    times), outside any transaction since the issuer's keys may need a
    fetch; then, in one transaction, exactly one publisher must match, the
    token's `jti` is recorded (a second exchange of the same token, even a
    concurrent one, fails on the unique key) and the access token is issued
    with an audit event naming the run. MintRefused otherwise."""
    claims = verify_token(oidc_token, keys, audience=audience)
    try:
        with db.write() as session:
            minted = _mint(session, claims)
    except IntegrityError:
        raise _replayed() from None
    return minted


def _mint(session: Session, claims: GitHubClaims) -> MintedToken:
    now = utcnow()
    session.execute(delete(OidcTokenUse).where(OidcTokenUse.expires < now - timedelta(hours=1)))
    if session.scalar(select(OidcTokenUse.id).where(OidcTokenUse.issuer == claims.issuer,
                                                    OidcTokenUse.jti == claims.jti)):
        raise _replayed()
    publishers = matching_publishers(session, claims)
    if len(publishers) != 1:
        raise _no_single_publisher(claims, len(publishers))
    publisher = publishers[0]
    session.add(OidcTokenUse(issuer=claims.issuer, jti=claims.jti,
                             expires=datetime.fromtimestamp(claims.expires, timezone.utc)))
    session.flush()  # the unique (issuer, jti) key: IntegrityError for a replay that raced this one
    publisher.repository_id = publisher.repository_id or claims.repository_id or None
    publisher.repository_owner_id = publisher.repository_owner_id or claims.repository_owner_id or None
    publisher.last_used = now
    expires = now + MINTED_LIFETIME
    name = f"{claims.repository} {workflow_file(claims)} run {claims.run_id or '?'}"[:100]
    issued = issue_token(
        session, publisher.organization_id, name=name, scope=publisher.scope,
        restrictions=[(project, "") for project in publisher.projects], expires=expires,
        publisher_id=publisher.id,
    )
    record_event(
        session, publisher.organization_id, f"github {claims.repository} (publisher #{publisher.id})",
        AuditAction.token_mint, f"token #{issued.token.id} {issued.token.name!r}",
        scope=publisher.scope, projects=publisher.projects or None, expires=expires.isoformat(),
        **claims.audit_detail(),
    )
    return MintedToken(issued.secret, expires, issued.token.id, publisher.id)


def _replayed() -> MintRefused:
    return MintRefused("invalid-reuse-token", "This OIDC token was already exchanged: request a new one.")


def _no_single_publisher(claims: GitHubClaims, count: int) -> MintRefused:
    environment = f", environment {claims.environment!r}" if claims.environment else ", no environment"
    seen = f"repository {claims.repository!r}, workflow {claims.workflow_ref!r}{environment}"
    if count == 0:
        return MintRefused("invalid-publisher", f"No trusted publisher matches this run ({seen}).")
    return MintRefused(
        "invalid-publisher",
        f"{count} trusted publishers match this run ({seen}); name an environment to tell them apart.",
    )


def burn_token(session: Session, secret: object) -> bool:
    """Revoke a token trusted publishing minted, at once (every process sees
    it on its next request). Other tokens, unknown or malformed secrets are
    left alone: the answer is the same, so it confirms nothing. True if a
    token was revoked."""
    if not isinstance(secret, str):
        return False
    token = find_token_row(session, secret)
    if token is None or token.publisher_id is None or token.revoked is not None:
        return False
    token.revoked = utcnow()
    bump_auth_epoch(session, token.organization_id)
    record_event(session, token.organization_id, BURNT_BY, AuditAction.token_revoke, f"token #{token.id} {token.name!r}")
    return True


def forget_spent_tokens(session: Session, now: datetime | None = None) -> int:
    """Delete minted tokens that stopped working over SPENT_TOKEN_RETENTION
    ago (expired, or burnt); tokens made by people are never touched.
    Returns how many were deleted."""
    cutoff = (now or utcnow()) - SPENT_TOKEN_RETENTION
    result = session.execute(delete(AccessToken).where(
        AccessToken.publisher_id.is_not(None),
        or_(AccessToken.expires < cutoff, AccessToken.revoked < cutoff),
    ))
    return result.rowcount or 0
