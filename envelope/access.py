"""Who is asking and what they may see or do: the one place permissions live."""
from __future__ import annotations

import hashlib
from datetime import datetime
from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from envelope.errors import Forbidden
from envelope.models.accounts import TokenScope

READ = TokenScope.read
UPLOAD = TokenScope.upload
SCOPES = tuple(TokenScope)


@dataclass(frozen=True)
class Restriction:
    project: NormalizedName
    specifier: SpecifierSet

    def __str__(self) -> str:
        return f"{self.project}{self.specifier}"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller inside one organization.

    `restrictions` is None for access to every project; otherwise only the
    named projects, each limited to the versions its specifier matches.
    Pre-releases count as matching, since a token holder asking for 2.0rc1
    under `>=1` is still within what the token was made for.
    """

    organization_id: int
    label: str  # how audit rows and "uploaded by" name the caller
    can_upload: bool
    restrictions: tuple[Restriction, ...] | None = None
    user_id: int | None = None
    token_id: int | None = None
    can_manage: bool = False  # owner-level: delete, members, connections
    noun: str = "This token"  # how refusals name the caller
    expires: datetime | None = None  # the token's expiry: no redirect may outlive it
    _by_project: dict[str, Restriction] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.restrictions is not None:
            self._by_project.update({r.project: r for r in self.restrictions})

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


def system_principal(organization_id: int, label: str) -> Principal:
    """Full rights in one organization: the CLI run by the operator."""
    return Principal(organization_id, label, can_upload=True, can_manage=True)
