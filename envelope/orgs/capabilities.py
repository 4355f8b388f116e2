"""What a caller may do: the one table from role and token kind to capabilities.

Every face (index, files, upload, pages, JSON API, CLI) asks this table
through Caller.may()/OrgAccess.require(); nothing else maps a role to a right.
docs/access.md prints the same table for people.

- A member signed in to the web UI has their role's capabilities.
- A token bound to a user has the intersection of its user's role's
  capabilities and its scope's: it never exceeds either.
- A deploy token (no user) is for the index and upload only.
- A token restricted to some projects never holds an organization-wide
  capability (audit log, members, repositories, tokens, settings).
- The operator at the CLI holds every capability.
"""
from __future__ import annotations

from enum import Enum

from envelope.models import Role, TokenScope


class Capability(str, Enum):
    READ_INDEX = "read-index"  # simple index, files, project pages: within the caller's restrictions
    UPLOAD = "upload"
    YANK = "yank"
    SET_STATUS = "set-status"  # PEP 792 project status: archive, quarantine, deprecate; members only
    DELETE = "delete"
    SYNC = "sync"  # start a sync of a connected repository
    SEE_MEMBERS = "see-members"
    SEE_AUDIT = "see-audit"
    SEE_REPOSITORIES = "see-repositories"
    SEE_SETTINGS = "see-settings"
    OWN_TOKENS = "own-tokens"  # create, list and revoke one's own tokens
    MANAGE_MEMBERS = "manage-members"  # roles, removals, invitations
    MANAGE_TOKENS = "manage-tokens"  # deploy tokens; everyone's tokens
    MANAGE_REPOSITORIES = "manage-repositories"
    MANAGE_SETTINGS = "manage-settings"  # the upstream proxy


C = Capability
ORGANIZATION_WIDE = frozenset({
    C.SYNC, C.SEE_MEMBERS, C.SEE_AUDIT, C.SEE_REPOSITORIES, C.SEE_SETTINGS, C.OWN_TOKENS,
    C.MANAGE_MEMBERS, C.MANAGE_TOKENS, C.MANAGE_REPOSITORIES, C.MANAGE_SETTINGS,
})

_READER = frozenset({C.READ_INDEX, C.SEE_MEMBERS, C.SEE_AUDIT, C.SEE_REPOSITORIES, C.SEE_SETTINGS, C.OWN_TOKENS})
_MAINTAINER = _READER | {C.UPLOAD, C.YANK, C.SET_STATUS, C.SYNC}
_OWNER = _MAINTAINER | {C.DELETE, C.MANAGE_MEMBERS, C.MANAGE_TOKENS, C.MANAGE_REPOSITORIES, C.MANAGE_SETTINGS}
ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.reader: _READER, Role.maintainer: frozenset(_MAINTAINER), Role.owner: frozenset(_OWNER),
}

READ_SCOPE = TokenScope.read
UPLOAD_SCOPE = TokenScope.upload
# What a token of each scope may do at most; tokens never manage anything.
_READ_TOKEN = frozenset({C.READ_INDEX, C.SEE_MEMBERS, C.SEE_AUDIT, C.SEE_REPOSITORIES, C.SEE_SETTINGS})
SCOPE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    READ_SCOPE: _READ_TOKEN,
    UPLOAD_SCOPE: _READ_TOKEN | {C.UPLOAD, C.YANK, C.SYNC},
}
DEPLOY_TOKEN = frozenset({C.READ_INDEX, C.UPLOAD})
OPERATOR = frozenset(Capability)


def member_capabilities(role: Role) -> frozenset[Capability]:
    return ROLE_CAPABILITIES[role]


def token_capabilities(scope: str, role: Role | None, *, restricted: bool) -> frozenset[Capability]:
    """A token's capabilities: `role` is its user's current role, None for a deploy token."""
    granted = SCOPE_CAPABILITIES.get(scope, frozenset())
    granted = granted & (DEPLOY_TOKEN if role is None else ROLE_CAPABILITIES[role])
    if restricted:
        granted = granted - ORGANIZATION_WIDE
    return frozenset(granted)


def least_role(capability: Capability) -> Role | None:
    """The lowest role holding `capability` (None: no role does)."""
    for role in (Role.reader, Role.maintainer, Role.owner):
        if capability in ROLE_CAPABILITIES[role]:
            return role
    return None
