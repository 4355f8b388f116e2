"""The usage page, the dashboard's quota warning and the administrator's
limits form, in Chromium at 1280 and 390 px: they fit, and the figures and
the warning are what `envelope org quota` set up."""
from __future__ import annotations

from tests.browser.layout import check_widths, visit
from tests.browser.test_journeys import PASSWORD, sign_in
from tests.builders import make_wheel

ORG = "acme"


def test_usage_warning_and_limits_form_fit_at_both_widths(page, ui_server, tmp_path) -> None:
    ui_server.cli("user", "create", "lead", "--email", "lead@example.com", "--password-stdin", input=PASSWORD + "\n")
    ui_server.cli("org", "create", ORG, "--owner", "lead")
    wheel = make_wheel(tmp_path, "billing", "1.0.0", summary="Invoices")
    ui_server.cli("import", "--org", ORG, str(wheel))
    size = wheel.stat().st_size
    ui_server.cli("org", "quota", ORG, "--storage", str(size + size // 10), "--downloads", "100GB", "--members", "20")

    sign_in(page, "lead")
    visit(page, f"/{ORG}/usage", "org-usage")
    text = page.locator("main").inner_text()
    assert "Usage of acme" in text and "Index page requests in" in text
    assert page.get_by_role("status").first.inner_text().startswith("Storage: ")  # about 91 % of the limit
    assert page.locator("header nav [aria-current]").all_inner_texts() == ["Usage"]
    visit(page, f"/{ORG}/", "org-dashboard-quota-warning")
    assert "of the" in page.locator(".notice.warning").inner_text()

    visit(page, "/admin/settings", "admin-limits")
    page.locator("details.limits summary").first.click()
    assert page.get_by_label("Downloads per month").input_value() == "100GB"
    check_widths(page, "admin-limits-open")
