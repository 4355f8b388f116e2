"""What a project page's sidebar shows, from the release's core metadata:
links, license, people, Requires-Python, classifiers and dependencies.

Only http(s) and mailto links leave here, so metadata cannot smuggle a
`javascript:` URL into a page. A dependency is linked when it names a project
of the same organization that the viewer may read; any other name stays
plain text, so the sidebar reveals nothing the index would not.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import getaddresses
from urllib.parse import urlsplit

from packaging.metadata import RawMetadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope.models import Organization, Project
from envelope.orgs.identity import Caller

SHORT_LICENSE = 80  # characters: longer License fields are whole license texts


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None
    role: str  # "Author" or "Maintainer"


@dataclass(frozen=True)
class Dependency:
    name: str  # as the metadata spells it
    specifier: str  # "" or ">=1,<2", with extras: "[redis]>=4"
    marker: str  # "" or the environment marker, as text
    project: str | None  # the normalised name of a private project the viewer may open


@dataclass(frozen=True)
class ProjectFacts:
    links: list[Link] = field(default_factory=list)
    license: str | None = None  # a short name or SPDX expression
    license_text: str | None = None  # a License field too long to be a name
    people: list[Person] = field(default_factory=list)
    requires_python: str | None = None
    classifiers: dict[str, list[str]] = field(default_factory=dict)  # "Programming Language" -> ["Python :: 3"]
    dependencies: list[Dependency] = field(default_factory=list)
    optional: dict[str, list[Dependency]] = field(default_factory=dict)  # extra -> its dependencies


def project_facts(
    session: Session, organization: Organization, principal: Caller, metadata: RawMetadata
) -> ProjectFacts:
    """The sidebar of a release page, as plain data for the template."""
    license_text, license_name = _license(metadata)
    required, optional = _dependencies(session, organization, principal, metadata.get("requires_dist", []))
    return ProjectFacts(
        links=_links(metadata),
        license=license_name,
        license_text=license_text,
        people=_people(metadata),
        requires_python=metadata.get("requires_python") or None,
        classifiers=_classifiers(metadata.get("classifiers", [])),
        dependencies=required,
        optional=optional,
    )


def _safe_url(url: str) -> str | None:
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") and "//" in url else None


def _links(metadata: RawMetadata) -> list[Link]:
    links: list[Link] = []
    seen: set[str] = set()
    candidates: list[tuple[str, str]] = []
    if metadata.get("home_page"):
        candidates.append(("Homepage", metadata["home_page"]))
    candidates.extend((metadata.get("project_urls") or {}).items())
    if metadata.get("download_url"):
        candidates.append(("Download", metadata["download_url"]))
    for label, url in candidates:
        safe = _safe_url(url)
        if safe and safe not in seen:
            seen.add(safe)
            links.append(Link(label.strip() or safe, safe))
    return links


def _license(metadata: RawMetadata) -> tuple[str | None, str | None]:
    """(long text, short name): License-Expression wins; a License field that
    is a whole license text is kept apart so the sidebar shows a name."""
    if metadata.get("license_expression"):
        return None, metadata["license_expression"].strip()
    text = (metadata.get("license") or "").strip()
    if not text:
        classifiers = [c.split(" :: ")[-1] for c in metadata.get("classifiers", []) if c.startswith("License ::")]
        return None, ", ".join(classifiers) or None
    if "\n" in text or len(text) > SHORT_LICENSE:
        first, *rest = text.splitlines()  # folded header lines: continuations carry the fold's indent
        text = "\n".join([first, *textwrap.dedent("\n".join(rest)).splitlines()]).strip()
        return text, first[:SHORT_LICENSE].strip() or None
    return None, text


def _people(metadata: RawMetadata) -> list[Person]:
    people: list[Person] = []
    for role in ("author", "maintainer"):
        names = metadata.get(role) or ""
        emails = metadata.get(f"{role}_email") or ""
        found = [(name.strip(), address.strip()) for name, address in getaddresses([emails]) if address]
        if found:
            people.extend(Person(name or names.strip() or address, address, role.capitalize()) for name, address in found)
        elif names.strip():
            people.append(Person(names.strip(), None, role.capitalize()))
    unique: list[Person] = []
    for person in people:
        if all((p.name, p.email) != (person.name, person.email) for p in unique):
            unique.append(person)
    return unique


def _classifiers(classifiers: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for classifier in classifiers:
        head, _, rest = classifier.partition(" :: ")
        grouped.setdefault(head.strip(), []).append(rest.strip() or head.strip())
    return grouped


def _dependencies(
    session: Session, organization: Organization, principal: Caller, lines: Sequence[str]
) -> tuple[list[Dependency], dict[str, list[Dependency]]]:
    parsed: list[tuple[str, Requirement | None]] = []
    for line in lines:
        try:
            parsed.append((line, Requirement(line)))
        except InvalidRequirement:
            parsed.append((line, None))
    names = {canonicalize_name(r.name) for _, r in parsed if r is not None}
    private = set(
        session.scalars(
            select(Project.normalized_name).where(
                Project.organization_id == organization.id, Project.normalized_name.in_(names)
            )
        )
    ) if names else set()
    required: list[Dependency] = []
    optional: dict[str, list[Dependency]] = {}
    for line, requirement in parsed:
        if requirement is None:
            required.append(Dependency(line, "", "", None))
            continue
        name = canonicalize_name(requirement.name)
        visible = name if name in private and principal.may_read_project(name) else None
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        marker = str(requirement.marker) if requirement.marker else ""
        extra = _extra_of(marker)
        dependency = Dependency(requirement.name, extras + str(requirement.specifier), "" if extra else marker, visible)
        if extra:
            optional.setdefault(extra, []).append(dependency)
        else:
            required.append(dependency)
    return required, optional


def _extra_of(marker: str) -> str | None:
    """The extra a marker like `extra == "redis"` (alone) names; None otherwise.
    A marker combining an extra with other conditions stays in the text."""
    text = marker.strip()
    for quote in ('"', "'"):
        prefix = f"extra == {quote}"
        if text.startswith(prefix) and text.endswith(quote) and text.count(quote) == 2:
            return text[len(prefix):-1]
    return None
