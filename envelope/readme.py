"""A release's long description as safe HTML, the way PyPI renders it.

readme_renderer turns Markdown and reStructuredText into HTML and cleans it
with nh3 (an allow-list sanitizer): scripts, iframes, event-handler
attributes and javascript: links do not survive. Plain text is escaped.
"""
from __future__ import annotations

import functools
import io
import warnings
from email.message import Message

import readme_renderer.rst
import readme_renderer.txt

MARKDOWN = "text/markdown"
RST = "text/x-rst"
PLAIN = "text/plain"
CACHED_TEXT_LIMIT = 100_000  # characters: 128 cached READMEs stay within a few dozen MB


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
    return f'<pre class="readme-plain">{readme_renderer.txt.render(text)}</pre>'


def render_readme(text: str | None, content_type: str | None) -> str | None:
    """Sanitized HTML for a description, or None when there is none.

    Unknown types and reStructuredText that fails to render (docutils
    errors, disabled directives) fall back to escaped plain text, as PyPI does.
    Typical READMEs are cached; huge ones are rendered each time rather than
    held in memory."""
    if not text or not text.strip():
        return None
    if len(text) <= CACHED_TEXT_LIMIT:
        return _render_cached(text, content_type)
    return _render(text, content_type)


@functools.lru_cache(maxsize=128)
def _render_cached(text: str, content_type: str | None) -> str:
    return _render(text, content_type)


def _render(text: str, content_type: str | None) -> str:
    kind, params = parse_content_type(content_type)
    rendered: str | None = None
    if kind == MARKDOWN:
        variant = params.get("variant", "GFM")
        rendered = _markdown().render(text, variant=variant if variant in ("GFM", "CommonMark") else "GFM")
    elif kind == RST:
        # docutils' warnings go to a buffer we drop: a README that does not
        # render falls back to plain text rather than into the logs.
        rendered = readme_renderer.rst.render(text, stream=io.StringIO())
    return rendered if rendered is not None else _plain(text)
