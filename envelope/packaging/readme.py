"""A release's long description as safe HTML, the way PyPI renders it,
rendered once and stored on the release.

readme_renderer turns Markdown and reStructuredText into HTML and cleans it
with nh3 (an allow-list sanitizer): scripts, iframes, event-handler
attributes and javascript: links do not survive. Plain text is escaped.

Rendering a multi-megabyte reStructuredText README takes docutils tens of
seconds, so it never happens in a page view: pages show
Release.description_html. A README up to INLINE_RENDER_LIMIT characters is
rendered while publishing (well under a second); a larger one is queued
through the outbox for the worker (`render_stored`). Above RENDER_LIMIT the
text never reaches docutils or the Markdown renderer at all: its first
PLAIN_PREVIEW characters are stored as escaped plain text and the page says
why. Releases from before stored READMEs (status NULL) are queued by the
worker's reconciler, a batch per pass (`queue_unrendered`).
"""
from __future__ import annotations

import functools
import io
import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from envelope.db import Database
from envelope.models import OutboxMessage, ReadmeStatus, Release, TaskName
from envelope.models.base import utcnow
from envelope.outbox import enqueue

log = logging.getLogger(__name__)
MARKDOWN = "text/markdown"
RST = "text/x-rst"
PLAIN = "text/plain"
INLINE_RENDER_LIMIT = 100_000  # characters rendered inside the publish call
RENDER_LIMIT = 1_000_000  # characters; above this only escaped plain text is stored
PLAIN_PREVIEW = 100_000  # characters of an unrendered README kept as plain text
RENDER_TIME_LIMIT = 300  # seconds a worker may spend on one README before it gives up
RENDER_TASK = TaskName.render_readme
QUEUE_BATCH = 500  # releases the reconciler queues per pass


@dataclass(frozen=True)
class StoredReadme:
    """What a release stores about its README: a status and, when done, HTML."""

    status: ReadmeStatus
    html: str | None = None


@functools.cache
def _markdown():
    # readme_renderer warns at import about renderer options it cannot help
    # (comrak's renamed settings, a missing extra); the output is unaffected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        import readme_renderer.markdown
    return readme_renderer.markdown


def parse_content_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """'text/markdown; charset=UTF-8; variant=GFM' -> ('text/markdown', {'charset': 'UTF-8', 'variant': 'GFM'})."""
    message = Message()
    message["content-type"] = content_type or RST  # core metadata's default
    params = {k.lower(): v for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params


def _plain(text: str) -> str:
    import readme_renderer.txt  # here, like the renderers below: docutils and pygments are ~18 MB per process

    return f'<pre class="readme-plain">{readme_renderer.txt.render(text)}</pre>'


def _plain_preview(text: str) -> str:
    return _plain(text[:PLAIN_PREVIEW])


def render_readme(text: str | None, content_type: str | None) -> str | None:
    """Sanitized HTML for a description, or None when there is none.

    Unknown types and reStructuredText that fails to render (docutils
    errors, disabled directives) fall back to escaped plain text, as PyPI
    does. Text above RENDER_LIMIT is never parsed: its first PLAIN_PREVIEW
    characters come back as escaped plain text. Slow for large texts: call
    it from the publish path or the worker, never from a page view."""
    if not text or not text.strip():
        return None
    if len(text) > RENDER_LIMIT:
        return _plain_preview(text)
    kind, params = parse_content_type(content_type)
    rendered: str | None = None
    if kind == MARKDOWN:
        variant = params.get("variant", "GFM")
        rendered = _markdown().render(text, variant=variant if variant in ("GFM", "CommonMark") else "GFM")
    elif kind == RST:
        # docutils' warnings go to a buffer we drop: a README that does not
        # render falls back to plain text rather than into the logs.
        # readme_renderer passes no settings through, but docutils' own
        # line_length_limit (10,000 characters) stays on; nesting deep enough
        # to exhaust the stack raises RecursionError, handled by `_outcome`.
        import readme_renderer.rst

        rendered = readme_renderer.rst.render(text, stream=io.StringIO())
    return rendered if rendered is not None else _plain(text)


def _outcome(text: str | None, content_type: str | None) -> StoredReadme:
    """Render now, whatever the size up to RENDER_LIMIT."""
    if not text or not text.strip():
        return StoredReadme(ReadmeStatus.none)
    if len(text) > RENDER_LIMIT:
        return StoredReadme(ReadmeStatus.too_large, _plain_preview(text))
    try:
        return StoredReadme(ReadmeStatus.rendered, render_readme(text, content_type))
    except (RecursionError, MemoryError, ValueError) as exc:  # hostile nesting, renderer bugs
        log.warning("readme: rendering failed (%s); storing plain text", type(exc).__name__)
        return StoredReadme(ReadmeStatus.failed, _plain_preview(text))


def prepare_readme(text: str | None, content_type: str | None) -> StoredReadme:
    """What to store for a new release's README, computed before its
    transaction: small ones rendered, too-large ones as plain text, the rest
    pending for the worker (see `store_readme`)."""
    if text and INLINE_RENDER_LIMIT < len(text) <= RENDER_LIMIT and text.strip():
        return StoredReadme(ReadmeStatus.pending)
    return _outcome(text, content_type)


def store_readme(session: Session, release: Release, readme: StoredReadme) -> None:
    """Record `readme` on a release just inserted (and flushed); a pending one
    is queued in the same transaction, so it runs once the release exists."""
    release.description_html = readme.html
    release.readme_status = readme.status
    if readme.status is ReadmeStatus.pending:
        release.readme_queued = utcnow()
        enqueue(session, RENDER_TASK, release_id=release.id)


def readme_on_page(release: Release) -> StoredReadme:
    """What a page shows: the stored HTML and its status, never a rendering.
    A release from before stored READMEs counts as pending until the
    reconciler gets to it."""
    if release.readme_status is None:
        has_text = bool(release.description and release.description.strip())
        return StoredReadme(ReadmeStatus.pending if has_text else ReadmeStatus.none)
    return StoredReadme(release.readme_status, release.description_html)


def render_stored(db: Database, release_id: int) -> ReadmeStatus | None:
    """The worker's half: claim a waiting release, render outside any
    transaction, store. Returns the status stored, or None when there was
    nothing to do (gone, already claimed or done), so a rerun is harmless."""
    with db.write() as session:
        claimed = session.execute(
            update(Release)
            .where(Release.id == release_id,
                   or_(Release.readme_status.is_(None), Release.readme_status == ReadmeStatus.pending))
            .values(readme_status=ReadmeStatus.rendering, readme_queued=utcnow())
        ).rowcount
        if not claimed:
            return None
        text, content_type = session.execute(
            select(Release.description, Release.description_content_type).where(Release.id == release_id)
        ).one()
    return _store(db, release_id, _outcome(text, content_type))


def give_up_rendering(db: Database, release_id: int) -> ReadmeStatus | None:
    """Store the plain-text fallback for a release whose rendering ran out of
    time or whose worker died: the page then shows text instead of waiting."""
    with db.read() as session:
        text = session.scalar(select(Release.description).where(Release.id == release_id))
    if not text or not text.strip():
        return _store(db, release_id, StoredReadme(ReadmeStatus.none))
    return _store(db, release_id, StoredReadme(ReadmeStatus.failed, _plain_preview(text)))


def _store(db: Database, release_id: int, readme: StoredReadme) -> ReadmeStatus | None:
    with db.write() as session:
        stored = session.execute(
            update(Release)
            .where(Release.id == release_id, Release.readme_status == ReadmeStatus.rendering)
            .values(description_html=readme.html, readme_status=readme.status)
        ).rowcount
    return readme.status if stored else None


def queue_unrendered(db: Database, *, stale_after: float) -> int:
    """The reconciler's half: queue releases from before stored READMEs and
    pending ones whose message was lost (queued over `stale_after` seconds
    ago). One claimed so long ago that its worker must have died mid-render
    gets the plain-text fallback rather than a second worker to break.
    Returns how many releases were queued or given up on."""
    now = utcnow()
    stale = now - timedelta(seconds=stale_after)
    abandoned = now - timedelta(seconds=2 * RENDER_TIME_LIMIT)
    with db.write() as session:
        backlog = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.sent.is_(None), OutboxMessage.not_before < stale).limit(1)
        )
        if backlog is not None:
            return 0  # the broker is not taking work: queue nothing more
        session.execute(
            update(Release)
            .where(Release.readme_status.is_(None), Release.description.is_(None))
            .values(readme_status=ReadmeStatus.none)
        )
        queued = session.scalars(
            select(Release.id)
            .where(or_(Release.readme_status.is_(None),
                       (Release.readme_status == ReadmeStatus.pending) & (Release.readme_queued < stale)))
            .order_by(Release.id)
            .limit(QUEUE_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for release_id in queued:
            enqueue(session, RENDER_TASK, release_id=release_id)
        if queued:
            session.execute(
                update(Release).where(Release.id.in_(queued))
                .values(readme_status=ReadmeStatus.pending, readme_queued=now)
            )
        dead = session.scalars(
            select(Release.id)
            .where(Release.readme_status == ReadmeStatus.rendering, Release.readme_queued < abandoned)
            .limit(QUEUE_BATCH)
        ).all()
    for release_id in dead:
        log.warning("readme: the worker rendering release #%d never finished; storing plain text", release_id)
        give_up_rendering(db, release_id)
    return len(queued) + len(dead)
