"""The upstream proxy: project names an organization does not publish itself
fall through to another simple index (PyPI's by default), so one index URL
serves private and public packages alike.

Dependency confusion is the danger, so one rule is checked at every step,
page and file alike: a name that has a private project in the organization,
or matches one of its reserved patterns, is never proxied — not its page,
not a file, not even versions the private project lacks.

Upstream pages are kept in the database with their own freshness
(ENVELOPE_UPSTREAM_TTL); a stale one is served at once while the worker
revalidates it with If-None-Match, so only a page never seen waits for the
upstream, and when the upstream is down the organization's last copy keeps
serving. Files are
fetched once per organization, on first download, verified against the
sha256 the upstream page gave, and served from Envelope's storage from then on,
until the organization's cache budget evicts them (envelope.lifecycle.upstream_cache).

An upstream may be private, so everything kept is kept per organization:
another organization naming the same URL fetches its own copy with its own
credentials, and the upstream decides. An upstream that refuses an
organization (401/403) is believed at once: its stored page is dropped,
nothing stale is served from the refresh that meets the refusal on, the
names answer 404.

An organization may also set a minimum age for upstream files: younger
ones are not offered yet (envelope.upstream.hold).

Upstream work is bounded: each fetch has a deadline, connects only to
permitted addresses (envelope.upstream.network), and an organization runs
at most MAX_FETCHES_PER_ORGANIZATION at once per process, so a slow or
hostile upstream ties up a few threads of its own organization, not the
whole server.
"""
from __future__ import annotations

import fnmatch
import functools
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, case, delete, select, type_coerce
from sqlalchemy.orm import Session

from envelope.audit import AuditAction, record_event
from envelope.orgs.capabilities import Capability
from envelope.config import Settings
from envelope.errors import InvalidInput
from envelope.lifecycle import upstream_cache
from envelope.lifecycle.upstream_cache import Budget
from envelope.models import Organization, Project, UpstreamPage
from envelope.sealing import seal, unseal
from envelope.upstream.client import (
    UpstreamIndex, split_index_url,
)
from envelope.upstream.hold import MAX_MIN_AGE, format_min_age
from envelope.upstream.network import AddressPolicy, AddressRefused

if TYPE_CHECKING:
    from envelope.orgs.membership import OrgAccess

log = logging.getLogger(__name__)

DEFAULT_UPSTREAM = "https://pypi.org/simple/"
NEGATIVE_TTL = 60  # seconds: "no such project upstream" is re-asked soon, new names appear
MAX_FETCHES_PER_ORGANIZATION = 2  # concurrent upstream fetches per organization, per web process
_PATTERN = re.compile(r"^[a-z0-9*?][a-z0-9*?-]*$")


@dataclass(frozen=True)
class Proxy:
    """An organization's upstream and the patterns it never proxies."""

    organization_id: int
    index: UpstreamIndex
    reserved: tuple[str, ...]
    min_age: int = 0  # seconds an upstream file must have been published before it is offered (envelope.upstream.hold)

    def proxies(self, normalized_name: str) -> bool:
        return not any(fnmatch.fnmatchcase(normalized_name, p) for p in self.reserved)


# --- configuration ---------------------------------------------------------


def normalize_pattern(text: str) -> str:
    """'Acme_*' -> 'acme-*': patterns match PEP 503 normalized names."""
    pattern = re.sub(r"[-_.]+", "-", text.strip().lower())
    if not _PATTERN.fullmatch(pattern) or not re.search(r"[a-z0-9]", pattern):
        raise InvalidInput(
            f"Invalid reserved name pattern {text!r}: use a project name with * or ? "
            "wildcards, e.g. 'acme-*'."
        )
    return pattern


def address_policy(settings: Settings) -> AddressPolicy:
    """Where this instance's upstream proxy may connect: public addresses and
    ENVELOPE_UPSTREAM_ALLOW_ADDRESSES."""
    return AddressPolicy(settings.upstream_allow_addresses)


def change_settings(
    session: Session,
    access: OrgAccess,
    settings: Settings,
    *,
    enabled: bool | None = None,
    upstream_url: str | None = None,
    reserved: Iterable[str] | None = None,
    reserve: Iterable[str] = (),
    unreserve: Iterable[str] = (),
    min_age: int | None = None,
    cache_budget: Budget | None = None,
) -> None:
    """Change the organization's upstream proxy: the one way, for the
    settings page and `envelope org proxy`. Owners and the operator.

    `enabled` False turns it off, True on with `upstream_url` (blank: PyPI;
    credentials may be in it, sealed at rest and never shown again; the URL
    as shown, without credentials, keeps the sealed ones); None leaves it.
    `reserved` replaces the reserved patterns (the page's list); `reserve`
    and `unreserve` add and remove some (the CLI's options). `min_age`
    (seconds, envelope.upstream.hold.parse_min_age) sets the minimum age of
    upstream files; None leaves it. `cache_budget` replaces the upstream
    cache's budget (envelope.lifecycle.upstream_cache); None leaves it. Every pattern
    is checked before anything changes; InvalidInput for a bad pattern, a
    malformed URL or one on an address `settings` do not allow (each fetch
    checks again: DNS may change)."""
    access.require(Capability.MANAGE_SETTINGS, "change the upstream proxy")
    if min_age is not None and not 0 <= min_age <= MAX_MIN_AGE:
        raise InvalidInput("The minimum age must be between 0 and 90 days.")
    if cache_budget is not None:
        upstream_cache.check(cache_budget)
    organization = access.organization
    current = list(organization.reserved_names or [])
    add = [normalize_pattern(p) for p in reserve if p.strip()]
    remove = [normalize_pattern(p) for p in unreserve if p.strip()]
    if reserved is not None:
        wanted = sorted({normalize_pattern(p) for p in reserved if p.strip()})
        add += [p for p in wanted if p not in current]
        remove += [p for p in current if p not in wanted]
    if enabled is False and organization.upstream_url is not None:
        _forget_pages(session, organization)
        organization.upstream_url = None
        organization.upstream_credentials_sealed = None
        record_event(session, organization.id, access.actor, AuditAction.proxy_disable, organization.name)
    elif enabled:
        url = (upstream_url or "").strip() or DEFAULT_UPSTREAM
        if url != organization.upstream_url:
            _set_upstream(session, organization, url, settings, access.actor)
    for pattern in add:
        if pattern not in current:
            current.append(pattern)
            record_event(session, organization.id, access.actor, AuditAction.proxy_reserve, pattern)
    for pattern in remove:
        if pattern in current:
            current.remove(pattern)
            record_event(session, organization.id, access.actor, AuditAction.proxy_unreserve, pattern)
    organization.reserved_names = sorted(current)
    if min_age is not None and min_age != organization.upstream_min_age:
        organization.upstream_min_age = min_age
        record_event(session, organization.id, access.actor, AuditAction.proxy_min_age, format_min_age(min_age))
    if cache_budget is not None and cache_budget != upstream_cache.budget_of(organization):
        organization.upstream_cache_max_bytes = cache_budget.max_bytes
        organization.upstream_cache_max_age = cache_budget.max_age
        record_event(session, organization.id, access.actor, AuditAction.proxy_cache_budget, cache_budget.describe())


def _set_upstream(session: Session, organization: Organization, url: str, settings: Settings, actor: str) -> None:
    """Proxy to `url`; the pages stored for the previous upstream or
    credentials are dropped: the new ones decide what this organization may see."""
    index = split_index_url(url)
    try:
        # The check is for URLs an owner typed. PyPI's, the instance's own
        # default, is left to the fetch-time check: where a site's DNS points
        # pypi.org at an internal mirror, only an administrator can allow it.
        if index.url != DEFAULT_UPSTREAM:
            address_policy(settings).check_host(urlsplit(index.url).hostname or "")
    except AddressRefused:
        raise InvalidInput(
            f"The upstream index {index.url} is on a private or reserved network address, which the "
            "upstream proxy may not reach; an administrator can allow it with ENVELOPE_UPSTREAM_ALLOW_ADDRESSES."
        ) from None
    _forget_pages(session, organization)
    organization.upstream_url = index.url
    organization.upstream_credentials_sealed = (
        seal(settings.secret_key, json.dumps(index.credentials)) if index.credentials else None
    )
    record_event(session, organization.id, actor, AuditAction.proxy_enable, index.url,
                 authenticated=index.credentials is not None)


def _forget_pages(session: Session, organization: Organization) -> None:
    session.execute(delete(UpstreamPage).where(UpstreamPage.organization_id == organization.id))


def settings_proxy(organization_id: int, upstream_url: str, credentials_sealed: str | None,
                   reserved_names: list[str] | None, min_age: int | None, secret_key: str) -> Proxy:
    """The Proxy an organization's upstream columns describe (as PROXY_STATE reads them)."""
    credentials = _unsealed_credentials(secret_key, credentials_sealed) if credentials_sealed else None
    return Proxy(organization_id, UpstreamIndex(upstream_url, credentials), tuple(reserved_names or ()),
                 min_age or 0)


@functools.lru_cache(maxsize=64)
def _unsealed_credentials(secret_key: str, credentials_sealed: str) -> tuple[str, str]:
    """Decrypted once per stored value, not on every proxied page (10 µs each).
    Keeping them costs no secrecy: this process holds the key that opens them.
    New credentials are a new sealed value, so a change is never missed."""
    user, password = json.loads(unseal(secret_key, credentials_sealed))
    return user, password


_orgs, _projects, _pages = Organization.__table__, Project.__table__, UpstreamPage.__table__
# One statement, one snapshot: the organization's proxy settings, whether a
# private project has the name (never proxied), and the stored page's state
# (envelope.upstream.pages serves a warm page from this row alone).
PROXY_STATE = (
    select(_orgs.c.upstream_url, _orgs.c.upstream_credentials_sealed, _orgs.c.reserved_names,
           _orgs.c.upstream_min_age, _projects.c.id, _pages.c.id, _pages.c.status, _pages.c.fetched,
           _pages.c.refresh_requested, _pages.c.digest,
           type_coerce(case((_orgs.c.upstream_min_age > 0, _pages.c.upload_times)), _pages.c.upload_times.type))
    .select_from(_orgs.outerjoin(_projects, and_(
        _projects.c.organization_id == _orgs.c.id, _projects.c.normalized_name == bindparam("name"),
    )).outerjoin(_pages, and_(
        _pages.c.organization_id == _orgs.c.id, _pages.c.upstream_url == _orgs.c.upstream_url,
        _pages.c.normalized_name == bindparam("name"),
    )))
    .where(_orgs.c.id == bindparam("organization_id"))
)


def proxy_for(session: Session, organization_id: int, normalized_name: str, secret_key: str) -> Proxy | None:
    """The proxy to ask for `normalized_name`, or None when it must not be
    proxied (see proxy_from_state)."""
    row = session.execute(PROXY_STATE, {"organization_id": organization_id, "name": normalized_name}).first()
    return proxy_from_state(row, organization_id, normalized_name, secret_key)


def proxy_from_state(row, organization_id: int, normalized_name: str, secret_key: str) -> Proxy | None:
    """The proxy a PROXY_STATE row gives for `normalized_name`, or None when
    it must not be proxied: no such organization, the proxy is off, a
    private project has the name, or it is reserved."""
    if row is None or row[0] is None or row[4] is not None:
        return None
    proxy = settings_proxy(organization_id, row[0], row[1], row[2], row[3], secret_key)
    return proxy if proxy.proxies(normalized_name) else None
