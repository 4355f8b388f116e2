"""The browser can reach the real server and render its pages."""
from __future__ import annotations

from tests.browser.conftest import screenshot


def test_sign_in_page_renders(page) -> None:
    page.goto("/login")
    assert page.get_by_label("Password").is_visible()
    assert "Envelope" in page.title()
    screenshot(page, "login")
