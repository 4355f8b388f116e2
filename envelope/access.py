"""Compatibility names for the caller record, which lives in envelope.identity
(who) and envelope.capabilities (what they may do)."""
from __future__ import annotations

from datetime import datetime

from envelope.capabilities import DEPLOY_TOKEN, OPERATOR, READ_SCOPE, UPLOAD_SCOPE, Capability
from envelope.identity import Caller, Restriction

from envelope.models.accounts import TokenScope

READ = TokenScope.read
UPLOAD = TokenScope.upload
SCOPES = tuple(TokenScope)

__all__ = ["READ", "UPLOAD", "SCOPES", "Caller", "Restriction", "Principal", "system_principal"]


def Principal(  # noqa: N802 - the old record's name, kept for its callers
    organization_id: int,
    label: str,
    can_upload: bool,
    restrictions: tuple[Restriction, ...] | None = None,
    user_id: int | None = None,
    token_id: int | None = None,
    can_manage: bool = False,
    noun: str = "This token",
    expires: datetime | None = None,
) -> Caller:
    """A Caller from the old (can_upload, can_manage) flags: index-only
    callers such as a repository connection publishing its releases."""
    if can_manage:
        capabilities = OPERATOR
    elif can_upload:
        capabilities = DEPLOY_TOKEN
    else:
        capabilities = frozenset({Capability.READ_INDEX})
    return Caller(
        organization_id, label, capabilities, restrictions=restrictions, user_id=user_id,
        token_id=token_id, noun=noun, expires=expires,
    )


def system_principal(organization_id: int, label: str) -> Caller:
    """Full rights in one organization: the CLI run by the operator."""
    return Principal(organization_id, label, can_upload=True, can_manage=True)
