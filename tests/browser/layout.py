"""Layout checks any browser test can call: the page fits its viewport
(no sideways scroll) at a desktop and a phone width, with the offending
elements named when it does not; and screenshots that double as the docs'
pictures when `make screenshots` asks for them."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from playwright.sync_api import Page

from tests.browser.conftest import screenshot
from tests.services import REPO_ROOT

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WIDTHS = (DESKTOP, PHONE)
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
DOCS_ENV = "ENVELOPE_DOCS_SCREENSHOTS"  # set by `make screenshots`: copy named shots into docs/images

# Elements wider than the viewport, outermost first, skipping what scrolls inside its own box.
_WIDE_ELEMENTS = """() => {
  const limit = document.documentElement.clientWidth;
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > limit + 1 && !scrolls(el)) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : ''} right=${Math.round(r.right)}`);
      if (out.length >= 8) break;
    }
  }
  return out;
}"""


def overflow(page: Page) -> tuple[int, int]:
    """(document width, viewport width) in CSS pixels."""
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def assert_fits(page: Page, label: str = "") -> None:
    """No horizontal scroll: the document is no wider than the viewport."""
    width, viewport = overflow(page)
    if width > viewport:
        culprits = page.evaluate(_WIDE_ELEMENTS)
        raise AssertionError(f"{label or page.url} is {width}px wide at {viewport}px; too wide: {culprits}")


def check_widths(page: Page, name: str, widths: Iterable[dict[str, int]] = WIDTHS, *, docs: str | None = None) -> None:
    """At each width: reload-free re-layout, assert it fits, screenshot as
    `{name}-{width}`. `docs` names the docs/images picture the desktop
    shot becomes under `make screenshots`."""
    for size in widths:
        page.set_viewport_size(size)
        page.wait_for_timeout(50)  # one layout pass after the resize
        assert_fits(page, f"{name} at {size['width']}px")
        shot = screenshot(page, f"{name}-{size['width']}")
        if docs and os.environ.get(DOCS_ENV) and size == DESKTOP:
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_IMAGES / f"{docs}.png")
    page.set_viewport_size(DESKTOP)


def visit(page: Page, path: str, name: str, *, docs: str | None = None) -> None:
    """Open `path` (it must answer below 400) and check it at both widths."""
    response = page.goto(path)
    assert response is not None and response.status < 400, f"{path}: {response and response.status}"
    check_widths(page, name, docs=docs)


__all__ = ["DESKTOP", "PHONE", "assert_fits", "check_widths", "overflow", "visit"]
