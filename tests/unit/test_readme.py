from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from envelope.readme import parse_content_type, render_readme

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
