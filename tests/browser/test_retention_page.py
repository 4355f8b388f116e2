"""The Retention page in Chromium, at 1280 and 390 px: an owner sets the
organization's policy with the form and reads the dry run under it."""
from __future__ import annotations

import pytest

from tests.browser.layout import check_widths, visit
from tests.browser.test_journeys import PASSWORD, sign_in
from tests.builders import make_wheel

ORG = "acme"


@pytest.fixture(scope="module")
def seeded(ui_server, tmp_path_factory) -> None:
    dist = tmp_path_factory.mktemp("retention-dist")
    ui_server.cli("user", "create", "lead", "--email", "lead@example.com", "--password-stdin", input=PASSWORD + "\n")
    ui_server.cli("org", "create", ORG)
    ui_server.cli("org", "add-member", ORG, "lead", "--role", "owner")
    versions = ["1.0.0", "1.1.0.dev1", "1.1.0.dev2", "1.1.0rc1", "1.1.0rc2"]
    wheels = [make_wheel(dist, "nightly-builds-of-the-payment-reconciliation-service", v) for v in versions]
    ui_server.cli("import", "--org", ORG, *map(str, wheels))
    ui_server.cli("retention", "set", "--org", ORG, "--project", "nightly-builds-of-the-payment-reconciliation-service",
                  "--max-age", "365d")


def test_owner_sets_a_policy_and_reads_the_dry_run(page, ui_server, seeded) -> None:
    sign_in(page, "lead")
    visit(page, f"/{ORG}/retention", "retention-project-policy")
    assert page.locator("header nav [aria-current]").all_inner_texts() == ["Retention"]
    page.get_by_label("Project").fill("nightly-builds-of-the-payment-reconciliation-service")
    page.get_by_label("Development and pre-releases to keep").fill("1")
    page.get_by_label("Maximum age").fill("180d")
    page.get_by_role("button", name="Save").click()
    assert "Saved the retention policy" in page.content()
    rows = page.locator("table").nth(1).locator("tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).inner_text().split("\t")[:4] == [
        "nightly-builds-of-the-payment-reconciliation-service", "1.1.0rc1", "1", "deleted"]
    check_widths(page, "retention")
