"""Remake the pictures in README.md and docs/ from the browser tests' own
flows: `make screenshots` (or `python -m tests.browser.screenshots`).

It runs tests/browser/test_pages.py with ENVELOPE_DOCS_SCREENSHOTS set, so
every shot a test names with `docs=` is copied into docs/images/ after the
same page passed its checks (no sideways scroll at 1280 and 390 px). A
picture can therefore never show a page the tests no longer see."""
from __future__ import annotations

import os
import sys

import pytest

from tests.browser.layout import DOCS_ENV, DOCS_IMAGES

FLOWS = "tests/browser/test_pages.py"


def main(argv: list[str] | None = None) -> int:
    os.environ[DOCS_ENV] = "1"
    status = pytest.main([FLOWS, "-q", "-p", "no:cacheprovider", *(argv if argv is not None else sys.argv[1:])])
    if status == 0:
        for picture in sorted(DOCS_IMAGES.glob("*.png")):
            print(f"wrote {picture.relative_to(DOCS_IMAGES.parent.parent)}")
    return int(status)


if __name__ == "__main__":
    raise SystemExit(main())
