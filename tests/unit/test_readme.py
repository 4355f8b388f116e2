from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import docutils.core
import pytest
import readme_renderer.rst
from sqlalchemy import select, update

from envelope.packaging import readme
from envelope.models import OutboxMessage, ReadmeStatus, Release
from envelope.models.base import utcnow
from envelope.packaging.readme import parse_content_type, render_readme
from tests.unit.archives import core_metadata, wheel_bytes, wheel_filename

HOSTILE_MARKDOWN = """\
# Title

<script>alert('md')</script>

<iframe src="https://evil.example/"></iframe>

[link](javascript:alert(1)) <a href="JaVaScRiPt:alert(2)">mixed case</a>

<img src="https://example.com/x.png" onerror="alert(3)" onload="alert(4)">

<p onclick="alert(5)" style="background:url(javascript:alert(6))">para</p>

<svg onload="alert(7)"><script>alert(8)</script></svg>
"""

HOSTILE_RST = """\
Title
=====

`link <javascript:alert(1)>`_

.. image:: https://example.com/x.png
   :target: javascript:alert(2)
"""


class Markup(HTMLParser):
    """Every tag and attribute of a fragment, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_inert(html: str) -> None:
    """No element that runs code, no event handler, no javascript: URL
    (escaped text that merely mentions them is fine)."""
    for tag, attrs in Markup(html).tags:
        assert tag not in {"script", "iframe", "object", "embed", "frame", "base", "form"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert "javascript:" not in re.sub(r"\s", "", value).lower(), html


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        (HOSTILE_MARKDOWN, "text/markdown"),
        (HOSTILE_MARKDOWN, "text/markdown; variant=CommonMark"),
        (HOSTILE_MARKDOWN, "text/markdown; charset=UTF-8; variant=GFM"),
        (HOSTILE_RST, "text/x-rst"),
        (HOSTILE_RST, None),
        (HOSTILE_MARKDOWN, "text/plain"),
        (HOSTILE_MARKDOWN, "application/x-unknown"),
        (".. raw:: html\n\n   <script>alert(1)</script>\n", "text/x-rst"),
    ],
)
def test_hostile_readmes_come_out_inert(text, content_type):
    assert_inert(render_readme(text, content_type))


@pytest.mark.parametrize(
    ("text", "content_type", "expected"),
    [
        ("# Hello\n\n**bold**", "text/markdown", "<strong>bold</strong>"),
        ("Hello\n=====\n\n*em* and ``code``", "text/x-rst", "<em>em</em>"),
        ("a < b & c", "text/plain", '<pre class="readme-plain">a &lt; b &amp; c</pre>'),
        # reStructuredText that does not render falls back to escaped text.
        (".. raw:: html\n\n   <b>x</b>\n", "text/x-rst", "&lt;b&gt;x&lt;/b&gt;"),
    ],
)
def test_readmes_render_by_content_type(text, content_type, expected):
    assert expected in render_readme(text, content_type)


@pytest.mark.parametrize("text", [None, "", "  \n"])
def test_no_description(text):
    assert render_readme(text, "text/markdown") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("text/x-rst", {})),
        ("text/markdown", ("text/markdown", {})),
        ("Text/Markdown; Charset=UTF-8; variant=GFM", ("text/markdown", {"charset": "UTF-8", "variant": "GFM"})),
    ],
)
def test_parse_content_type(value, expected):
    assert parse_content_type(value) == expected


@pytest.mark.parametrize(
    "html",
    ['<script>x</script>', '<a href="javascript:x">a</a>', '<a href=" java\tscript:x">a</a>',
     '<img src="x" onerror="y">', '<iframe src="x"></iframe>'],
)
def test_the_inertness_check_itself_catches_live_markup(html):
    with pytest.raises(AssertionError):
        assert_inert(html)


# ---------------------------------------------------------------- stored READMEs

PADDING = "\n\nFiller paragraph to make this README large.\n" * 3_000  # ~130,000 characters


def publish_with_readme(publish, text: str, content_type: str | None, version: str = "1.0"):
    metadata = core_metadata("demo", version, summary="s", body=text)
    if content_type:
        metadata = metadata.replace(b"Summary:", f"Description-Content-Type: {content_type}\nSummary:".encode(), 1)
    return publish(wheel_filename("demo", version), wheel_bytes("demo", version, metadata=metadata)).file


def stored(database, release_id: int) -> tuple[ReadmeStatus | None, str | None]:
    with database.read() as session:
        release = session.get(Release, release_id)
        return release.readme_status, release.description_html


def queued_renders(database) -> list[dict]:
    with database.read() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.task == readme.RENDER_TASK))
        return [row.kwargs for row in rows]


HOSTILE_READMES = [
    (HOSTILE_MARKDOWN, "text/markdown"),
    (HOSTILE_MARKDOWN, "text/markdown; variant=CommonMark"),
    (HOSTILE_RST, "text/x-rst"),
    (".. raw:: html\n\n   <script>alert(1)</script>\n", "text/x-rst"),
    ('<p onclick="alert(1)">raw</p><script>alert(2)</script><a href="javascript:alert(3)">x</a>', "text/markdown"),
]


@pytest.mark.parametrize("padding", ["", PADDING], ids=["inline", "worker"])
@pytest.mark.parametrize(("text", "content_type"), HOSTILE_READMES)
def test_hostile_readmes_are_stored_inert(publish, database, text, content_type, padding):
    """Both ways into description_html (publish and worker) store sanitised HTML."""
    file = publish_with_readme(publish, text + padding, content_type)
    if padding:
        assert stored(database, file.release_id) == (ReadmeStatus.pending, None)
        assert queued_renders(database) == [{"release_id": file.release_id}]
        assert readme.render_stored(database, file.release_id) is ReadmeStatus.rendered
    status, html = stored(database, file.release_id)
    assert status is ReadmeStatus.rendered and html
    assert_inert(html)


def test_small_readme_is_rendered_while_publishing_and_nothing_is_queued(publish, database):
    file = publish_with_readme(publish, "Hello\n=====\n\n*em*", "text/x-rst")
    status, html = stored(database, file.release_id)
    assert status is ReadmeStatus.rendered and "<em>em</em>" in html
    assert queued_renders(database) == []


def test_no_description_is_stored_as_none(publish, database):
    file = publish_with_readme(publish, "", None)
    assert stored(database, file.release_id) == (ReadmeStatus.none, None)


RST_ABOVE_THE_CAP = "Title\n=====\n\n**bold** text\n\n.. note:: a directive\n\n" + "x" * readme.RENDER_LIMIT


def test_text_above_the_cap_never_reaches_docutils(publish, database, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("docutils was given a README above the render limit")

    monkeypatch.setattr(readme_renderer.rst, "publish_parts", refuse)
    monkeypatch.setattr(docutils.core, "publish_parts", refuse)
    file = publish_with_readme(publish, RST_ABOVE_THE_CAP, "text/x-rst")
    status, html = stored(database, file.release_id)
    assert status is ReadmeStatus.too_large
    assert html.startswith('<pre class="readme-plain">Title<br>=====<br><br>**bold** text')
    assert "<strong>" not in html and "admonition" not in html
    assert len(html) < readme.PLAIN_PREVIEW + 100  # truncated
    assert queued_renders(database) == []


def test_render_readme_above_the_cap_is_escaped_text_without_docutils(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("docutils was given a README above the render limit")

    monkeypatch.setattr(readme_renderer.rst, "publish_parts", refuse)
    html = render_readme(RST_ABOVE_THE_CAP.replace("**bold**", "**bold** <b>raw</b>"), "text/x-rst")
    assert "**bold** &lt;b&gt;raw&lt;/b&gt;" in html and "<strong>" not in html and "<b>" not in html


def test_a_rerun_of_the_render_task_changes_nothing(publish, database):
    file = publish_with_readme(publish, "Big\n===\n" + PADDING, "text/x-rst")
    assert readme.render_stored(database, file.release_id) is ReadmeStatus.rendered
    before = stored(database, file.release_id)
    assert readme.render_stored(database, file.release_id) is None
    assert stored(database, file.release_id) == before


@pytest.mark.parametrize("padding", ["", PADDING], ids=["inline", "worker"])
def test_pathological_nesting_falls_back_to_plain_text(publish, database, padding):
    """200 nested lists exhaust docutils' recursion: plain text, not a crashed upload or task."""
    nested = "".join("  " * depth + "- item\n\n" for depth in range(200))
    file = publish_with_readme(publish, nested + padding, "text/x-rst")
    if padding:
        assert readme.render_stored(database, file.release_id) is ReadmeStatus.failed
    status, html = stored(database, file.release_id)
    assert status is ReadmeStatus.failed and html.startswith('<pre class="readme-plain">- item')


def test_releases_from_before_stored_readmes_are_queued_by_the_reconciler(publish, database):
    with_text = publish_with_readme(publish, "# Old\n\n**bold**", "text/markdown", "1.0")
    without = publish_with_readme(publish, "", None, "2.0")
    with database.write() as session:  # as migration 0007 leaves existing rows
        session.execute(update(Release).values(readme_status=None, description_html=None))
    assert readme.queue_unrendered(database, stale_after=300) == 1
    assert stored(database, without.release_id) == (ReadmeStatus.none, None)
    assert stored(database, with_text.release_id) == (ReadmeStatus.pending, None)
    assert queued_renders(database) == [{"release_id": with_text.release_id}]
    assert readme.queue_unrendered(database, stale_after=300) == 0  # queued once, not every pass
    assert readme.render_stored(database, with_text.release_id) is ReadmeStatus.rendered
    assert "<strong>bold</strong>" in stored(database, with_text.release_id)[1]


def test_a_render_whose_worker_died_gets_plain_text(publish, database):
    file = publish_with_readme(publish, "**bold**" + PADDING, "text/x-rst")
    long_ago = utcnow() - timedelta(seconds=2 * readme.RENDER_TIME_LIMIT + 60)
    with database.write() as session:  # claimed by a worker that then died
        session.execute(update(Release).values(readme_status=ReadmeStatus.rendering, readme_queued=long_ago))
    assert readme.queue_unrendered(database, stale_after=300) == 1
    status, html = stored(database, file.release_id)
    assert status is ReadmeStatus.failed and html.startswith('<pre class="readme-plain">**bold**')
    assert len(queued_renders(database)) == 1  # only publish's: the README is not handed out again
