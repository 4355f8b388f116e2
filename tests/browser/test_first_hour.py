"""The first hour, as the README tells it, on a fresh instance: the CLI quick
start (an organization, an upload and a read token, twine, pip), then the
browser (the first sign-up owns that organization, its project page, a new
token, the manage page warning who downloaded the version, a yank), each page
checked at 1280 and 390 px for sideways scroll."""
from __future__ import annotations

import re
import time
from pathlib import Path

from tests.browser.conftest import screenshot
from tests.browser.layout import DESKTOP, PHONE, assert_fits
from tests.builders import make_wheel
from tests.integration.clients import index_url, pip, twine_upload

PASSWORD = "correct horse battery staple"


def _fits_both(page, name: str) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.wait_for_timeout(50)
        assert_fits(page, f"{name} at {size['width']}px")
        screenshot(page, f"first-hour-{name}-{size['width']}")


def test_the_readme_first_hour(envelope_server, browser, tmp_path: Path) -> None:
    server = envelope_server()
    # The quick start, word for word (the CLI's output included).
    made = server.cli("org", "create", "acme").stdout
    assert "the instance's first account (the sign-up page or `envelope user create`) becomes its owner" in made
    upload = server.token("acme", "--scope", "upload", "--name", "ci")
    read = server.token("acme", "--scope", "read", "--project", "billing>=1,<2", "--expires", "30d", "--name", "laptop")
    wheel = make_wheel(tmp_path / "dist", "billing", "1.2.0")
    twine_upload(server.client_env, server.base_url, "acme", upload, [wheel])
    pip(server.client_env, "download", "--no-deps", "-d", str(tmp_path / "dl"),
        "--index-url", index_url(server.base_url, "acme", read), "billing")

    context = browser.new_context(base_url=server.base_url, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        # In the browser: the first sign-up is the admin and owns acme.
        page.goto("/signup")
        page.get_by_label("Username", exact=True).fill("alice")
        page.get_by_label("Email address").fill("alice@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat the password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_load_state()
        _fits_both(page, "home")
        page.get_by_role("link", name="acme").first.click()
        page.wait_for_load_state()
        assert page.url.endswith("/acme/")
        _fits_both(page, "organization")

        page.get_by_role("link", name="billing").first.click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name=re.compile("billing")).first.is_visible()
        assert page.locator("#snippet-pip").count() or page.get_by_text("pip install").first.is_visible()
        _fits_both(page, "project")

        page.goto("/acme/tokens")
        page.get_by_label("Name").fill("ci read")
        page.get_by_label("Projects (optional)").fill("billing")
        page.get_by_role("button", name="Create token").click()
        assert page.locator("#token-secret").inner_text().strip().startswith("envl_")
        _fits_both(page, "token-created")

        # Before a yank: who downloaded 1.2.0 lately (written by the web process within seconds).
        deadline = time.monotonic() + 30
        page.goto("/acme/projects/billing/1.2.0/manage")
        while not page.locator(".notice.warning").count() and time.monotonic() < deadline:
            time.sleep(1)
            page.reload()
        warning = page.locator("#recent-downloaders").inner_text()
        assert "1 credential downloaded 1.2.0 in the last 30 days" in warning
        assert re.search(r"token laptop \(#\d+\): 1 download, last on \d{4}-\d\d-\d\d", warning)
        _fits_both(page, "manage-with-usage")
        page.get_by_label("Reason", exact=True).fill("broken on 3.13")
        page.get_by_role("button", name="Yank 1.2.0").click()
        page.wait_for_load_state()
        assert page.get_by_text("Yanked billing 1.2.0", exact=False).first.is_visible()
        _fits_both(page, "after-yank")
    finally:
        context.close()
