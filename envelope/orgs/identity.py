"""Who is calling: one frozen record for every face and every kind of caller.

A Caller is a value, never a database row: it is what the auth cache keeps,
what crosses from one session to the next, and what the index, files,
upload, pages, API and CLI all hand to the domain. What it may do is its
`capabilities`, computed once from envelope.orgs.capabilities' table.

`auth_epoch` is the organization's epoch the caller was verified under.
Revoking a token, removing a member, changing a role or a password bumps
the epoch (bump_auth_epoch, in the same transaction as the change), and the
index's hot path reads the epoch in the statement that reads the serial: a
caller whose epoch is behind is verified again before it is answered.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from envelope.orgs.capabilities import OPERATOR, Capability
from envelope.errors import Forbidden
from envelope.models import Membership, Organization, Role


@dataclass(frozen=True)
class Restriction:
    project: NormalizedName
    specifier: SpecifierSet

    def __str__(self) -> str:
        return f"{self.project}{self.specifier}"


@dataclass(frozen=True)
class OrgRef:
    """An organization as a value: what a Caller knows of where it acts."""

    id: int
    name: str


@dataclass(frozen=True)
class Caller:
    """An authenticated caller inside one organization.

    `restrictions` is None for access to every project; otherwise only the
    named projects, each limited to the versions its specifier matches.
    Pre-releases count as matching, since a token holder asking for 2.0rc1
    under `>=1` is still within what the token was made for.
    """

    organization_id: int
    label: str  # how audit rows and "uploaded by" name the caller
    capabilities: frozenset[Capability]
    restrictions: tuple[Restriction, ...] | None = None
    user_id: int | None = None
    token_id: int | None = None
    organization_name: str = ""
    role: Role | None = None  # the member's role (a token's: its user's); None for deploy tokens and the operator
    scope: str | None = None  # a token's scope; None for members and the operator
    noun: str = "This token"  # how refusals name the caller
    expires: datetime | None = None  # the token's expiry: no redirect may outlive it
    auth_epoch: int = 0
    _by_project: dict[str, Restriction] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.restrictions is not None:
            self._by_project.update({r.project: r for r in self.restrictions})

    @property
    def organization(self) -> OrgRef:
        return OrgRef(self.organization_id, self.organization_name)

    def may(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @property
    def can_upload(self) -> bool:
        return Capability.UPLOAD in self.capabilities

    @property
    def can_manage(self) -> bool:
        return Capability.DELETE in self.capabilities

    @property
    def via_token(self) -> bool:
        return self.token_id is not None

    @property
    def restriction_key(self) -> str:
        """A short digest of what this caller can see, for ETags and caches."""
        if self.restrictions is None:
            return "all"
        text = ";".join(sorted(str(r) for r in self.restrictions))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def may_read_project(self, name: NormalizedName) -> bool:
        return self.restrictions is None or name in self._by_project

    def sees_every_version(self, name: NormalizedName) -> bool:
        """Whether every version of `name` is visible to this caller, so that
        the project's own serial tells it nothing it may not know."""
        if self.restrictions is None:
            return True
        restriction = self._by_project.get(name)
        return restriction is not None and not restriction.specifier

    def may_read_version(self, name: NormalizedName, version: Version | str) -> bool:
        if self.restrictions is None:
            return True
        restriction = self._by_project.get(name)
        if restriction is None:
            return False
        return restriction.specifier.contains(version, prereleases=True)

    def check_upload(self, name: NormalizedName, version: Version) -> None:
        """Raise Forbidden, naming the rule, unless this caller may publish name==version."""
        if not self.can_upload:
            raise Forbidden(f"{self.noun} may only read; uploading needs upload scope.")
        if self.restrictions is None:
            return
        restriction = self._by_project.get(name)
        if restriction is None:
            allowed = ", ".join(str(r) for r in self.restrictions)
            raise Forbidden(f"{self.noun} may not upload {name}: it is restricted to {allowed}.")
        if not restriction.specifier.contains(version, prereleases=True):
            raise Forbidden(
                f"{self.noun} may not upload {name} {version}: it is restricted to {restriction}."
            )


def operator(organization: Organization, label: str) -> Caller:
    """Every capability in one organization: the operator at the CLI, bulk import."""
    return Caller(
        organization.id, label, OPERATOR, organization_name=organization.name,
        noun="The operator", auth_epoch=organization.auth_epoch or 0,
    )


def bump_auth_epoch(session: Session, organization_id: int) -> None:
    """Every cached credential of this organization is verified again on its
    next request. Call in the transaction that revokes or narrows access."""
    session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(auth_epoch=Organization.auth_epoch + 1)
        .execution_options(synchronize_session=False)
    )


def bump_user_epochs(session: Session, user_id: int) -> None:
    """bump_auth_epoch for every organization the user belongs to (a password
    change or a disabled account affects all of them)."""
    for organization_id in session.scalars(
        select(Membership.organization_id).where(Membership.user_id == user_id)
    ).all():
        bump_auth_epoch(session, organization_id)
