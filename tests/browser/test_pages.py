"""Every page, at 1280 and 390 px: none scrolls sideways, the nav marks
where you are, and the pages issue 13 reshaped behave in Chromium (the
project page's sidebar and copyable hashes, the separate manage page, the
audit log's filters and export, recovery codes that download, error pages
that say what to do next). `make screenshots` runs this module to remake
the docs' pictures (docs/images) from these very flows."""
from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest

from tests.browser.layout import check_widths, visit
from tests.browser.test_journeys import PASSWORD, PLATFORMS, sign_in, sign_out
from tests.builders import make_wheel

ORG = "acme"
README = """Description-Content-Type: text/markdown

# billing

Invoices, credit notes and payment runs for every Acme service.

```python
from billing import Invoice
Invoice.for_customer("c-42").issue()
```
"""
METADATA = """Home-page: https://billing.acme.example
Project-URL: Source, https://git.acme.example/platform/billing
Project-URL: Changelog, https://git.acme.example/platform/billing/-/blob/main/CHANGELOG.md
License-Expression: LicenseRef-Acme-Internal
Author-email: Platform Team <platform@acme.example>
Classifier: Programming Language :: Python :: 3.11
Classifier: Programming Language :: Python :: 3.12
Classifier: Programming Language :: Python :: 3.13
Classifier: Operating System :: POSIX :: Linux
Classifier: Private :: Do Not Upload
"""
DEPENDENCIES = ["ledger>=1.2", "httpx>=0.27", 'tomli>=2; python_version < "3.11"', 'redis>=5; extra == "cache"']


@pytest.fixture(scope="module")
def seeded(ui_server, tmp_path_factory) -> None:
    """An owner (the first account: the instance's admin), acme with billing
    (three versions, 2.0.0 built for 14 platforms) and ledger, some tokens."""
    dist = tmp_path_factory.mktemp("pages-dist")
    ui_server.cli("user", "create", "lead", "--email", "lead@example.com", "--password-stdin", input=PASSWORD + "\n")
    ui_server.cli("org", "create", ORG)
    ui_server.cli("org", "add-member", ORG, "lead", "--role", "owner")
    wheels = [make_wheel(dist, "ledger", "1.2.0", summary="The general ledger", extra_metadata=README)]
    meta = METADATA + README
    wheels += [make_wheel(dist, "billing", v, summary="Invoices and payment runs", requires_python=">=3.11",
                          requires_dist=DEPENDENCIES, extra_metadata=meta) for v in ("1.0.0", "1.5.0")]
    wheels += [make_wheel(dist, "billing", "2.0.0", tags=tag, summary="Invoices and payment runs",
                          requires_python=">=3.11", requires_dist=DEPENDENCIES, extra_metadata=meta)
               for tag in PLATFORMS]
    ui_server.cli("import", "--org", ORG, *map(str, wheels))
    ui_server.token(ORG, "--name", "ci: deploy billing to the staging and production clusters", "--scope", "upload",
                    "--project", "billing>=2,<3", "--expires", "30d")
    ui_server.token(ORG, "--name", "laptop", "--project", "ledger")


def nav_current(page) -> list[str]:
    return page.locator("header nav [aria-current]").all_inner_texts()


def test_every_page_fits_at_desktop_and_phone_widths(page, ui_server, seeded) -> None:
    for path, name in (("/login", "login"), ("/signup", "signup")):
        visit(page, path, name)
        assert nav_current(page) == [name.replace("login", "Sign in").replace("signup", "Sign up")]
    visit(page, "/reset-password", "reset-request")
    sign_in(page, "lead")
    visit(page, "/", "home")
    visit(page, f"/{ORG}/", "org-dashboard")
    assert nav_current(page) == [ORG]
    visit(page, f"/{ORG}/members", "members")
    visit(page, f"/{ORG}/tokens", "tokens")
    assert nav_current(page) == ["Tokens"]
    visit(page, f"/{ORG}/repositories", "repositories")
    visit(page, f"/{ORG}/proxy", "proxy")
    assert nav_current(page) == ["Upstream"]
    visit(page, "/orgs/new", "orgs-new")
    visit(page, "/account", "account")
    assert nav_current(page) and nav_current(page)[0].startswith("lead")
    visit(page, "/account/sessions", "sessions")
    visit(page, "/account/password", "password")
    visit(page, "/account/2fa", "two-factor")
    visit(page, "/admin/settings", "admin-settings")

    # A token made in the page: the secret and its snippets fit a phone too.
    page.goto(f"/{ORG}/tokens")
    page.get_by_label("Name").fill("a token for the screenshots")
    page.get_by_role("button", name="Create token").click()
    assert page.locator("#token-secret").inner_text().startswith("envl_")
    check_widths(page, "token-created")


def test_project_page_reads_like_an_index(page, ui_server, seeded) -> None:
    sign_in(page, "lead")
    visit(page, f"/{ORG}/projects/billing/", "project-page", docs="project-page")
    assert nav_current(page) == [ORG]
    main = page.locator("main")
    # Install comes first, then the README; the sidebar has the metadata.
    install = page.locator("#snippet-pip-cli").bounding_box()
    readme = page.get_by_text("Invoices, credit notes and payment runs").bounding_box()
    assert install["y"] < readme["y"]
    sidebar = page.locator("aside.project-sidebar")
    assert sidebar.get_by_role("link", name="Source").get_attribute("href") == "https://git.acme.example/platform/billing"
    assert "LicenseRef-Acme-Internal" in sidebar.inner_text() and "Platform Team" in sidebar.inner_text()
    assert sidebar.get_by_role("link", name="ledger").get_attribute("href") == f"/{ORG}/projects/ledger/"
    assert sidebar.get_by_role("link", name="httpx").count() == 0
    # At 1280 the sidebar sits beside the README; at 390 below it.
    assert sidebar.bounding_box()["x"] > readme["x"]
    # Hashes: short on the page, whole in the clipboard and in the opened details.
    row = page.get_by_role("row", name=re.compile(r"billing-2\.0\.0-cp311-cp311-win_amd64"))
    digest = row.locator("code.digest").text_content()
    assert len(digest) == 64 and row.locator("summary code").inner_text() == digest[:12] + "…"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    row.get_by_role("button", name=re.compile("Copy the SHA-256")).click()
    assert page.evaluate("navigator.clipboard.readText()") == digest
    row.locator("summary").click()
    assert row.locator("code.digest").is_visible()
    check_widths(page, "project-hash-open")
    assert "Yank" not in main.inner_text()

    # Management lives on its own page.
    page.get_by_role("link", name=re.compile("^Manage")).click()
    page.wait_for_url("**/2.0.0/manage")
    check_widths(page, "project-manage", docs="project-manage")
    card = page.locator("li.file-card").filter(has_text="cp312-cp312-win_amd64")
    card.get_by_label(re.compile("Reason for yanking")).fill("built against the wrong OpenSSL; use 2.0.1")
    card.get_by_role("button", name=re.compile("Yank file")).click()
    page.wait_for_load_state()
    assert "Yanked billing-2.0.0-cp312-cp312-win_amd64.whl" in page.locator("main").inner_text()
    check_widths(page, "project-manage-yanked")
    visit(page, f"/{ORG}/projects/billing/2.0.0/delete", "release-delete")
    visit(page, f"/{ORG}/projects/ledger/", "project-ledger")


def test_audit_log_filters_and_exports(page, ui_server, seeded, tmp_path) -> None:
    sign_in(page, "lead")
    visit(page, f"/{ORG}/audit", "audit", docs="audit-log")
    assert nav_current(page) == ["Audit log"]
    page.get_by_label("Project").select_option("billing")
    page.get_by_label("What").select_option("file.publish")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    cells = page.locator("table.audit tbody tr")
    assert cells.count() == 16 and "billing-" in cells.first.inner_text()
    check_widths(page, "audit-filtered")
    # Dates stay on one line at 1280: the time cell is one line high.
    when = page.locator("table.audit tbody td time").first
    assert when.bounding_box()["height"] < 2 * float(when.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    saved = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == f"{ORG}-audit.csv"
    assert saved.count("\n") == 17 and "file.publish" in saved and "token.create" not in saved


def test_error_pages_say_what_to_do_next(page, ui_server, seeded) -> None:
    sign_in(page, "lead")
    response = page.goto(f"/{ORG}/projects/no-such-project/")
    assert response.status == 404
    assert "What to do next" in page.locator("main").inner_text()
    check_widths(page, "not-found")
    response = page.goto("/there/is/no/such/page/at/all")
    assert response.status == 404 and "ask an owner of the organization" in page.locator("main").inner_text()


def test_recovery_codes_download_as_text(page, ui_server) -> None:
    ui_server.cli("user", "create", "careful", "--email", "careful@example.com", "--password-stdin",
                  input=PASSWORD + "\n")
    sign_in(page, "careful")
    page.goto("/account/2fa")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.wait_for_load_state()
    codes = page.locator("ol.recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    check_widths(page, "recovery-codes")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as a text file").click()
    assert download.value.suggested_filename == "envelope-recovery-codes.txt"
    text = Path(download.value.path()).read_text()
    assert all(code in text.splitlines() for code in codes) and "careful" in text
    sign_out(page)
    page.goto("/login")
    page.get_by_label("Username or email address").fill("careful")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_label("Authentication code").is_visible()
    check_widths(page, "login-2fa")
