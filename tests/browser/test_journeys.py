"""What a team does in the browser, end to end in Chromium, checked with the
real clients: sign up, verify, create an organization, invite a colleague,
make a version-restricted token, install with pip, yank, revoke; reset a
password by email; turn on two-factor sign-in. Screenshots of the main pages
are saved under test-artifacts/screenshots/."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
import requests

from tests.browser.conftest import MailSink, screenshot
from tests.browser.layout import assert_fits
from tests.builders import make_wheel
from tests.integration.clients import index_url, installed_version, pip

PASSWORD = "correct horse battery staple"
ORG = "acme"


def sign_up(page, mail_sink: MailSink, username: str, *, url: str = "/signup") -> None:
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Email address").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def sign_out(page) -> None:
    page.get_by_role("button", name=re.compile("Sign out", re.I)).click()
    page.wait_for_load_state()


README = """Description-Content-Type: text/markdown

# billing

Invoices, credit notes and payment runs for every Acme service.

```python
from billing import Invoice
Invoice.for_customer("c-42").issue()
```
"""
# What cibuildwheel makes for 2.0.0, but for the cp313 aarch64 wheel (a failed
# CI job): the project page's coverage matrix must show the hole.
PLATFORMS = [
    f"cp3{minor}-cp3{minor}-{platform}"
    for minor in (11, 12, 13)
    for platform in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux_2_17_aarch64.manylinux2014_aarch64",
                     "musllinux_1_2_x86_64", "macosx_11_0_arm64", "win_amd64")
    if not (minor == 13 and "aarch64" in platform)
]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> list[Path]:
    dist = tmp_path_factory.mktemp("dist")
    pure = [make_wheel(dist, "billing", v, extra_metadata=README) for v in ("1.0.0", "1.5.0")]
    native = [make_wheel(dist, "billing", "2.0.0", tags=tag, extra_metadata=README) for tag in PLATFORMS]
    return pure + native


def test_team_journey(page, browser, ui_server, mail_sink, wheels, tmp_path) -> None:
    # 1. the team lead signs up and verifies the email address
    sign_up(page, mail_sink, "lead")
    verify = mail_sink.wait_for("lead@example.com", "confirm your email")
    page.goto(MailSink.link(verify))
    assert "lead@example.com is confirmed" in page.locator("main").inner_text()

    # 2. creates the organization
    page.goto("/orgs/new")
    page.get_by_label("Name").fill(ORG)
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(f"**/{ORG}/")
    ui_server.cli("import", "--org", ORG, *map(str, wheels))
    page.reload()
    assert page.get_by_role("link", name="billing").first.is_visible()
    screenshot(page, "org-dashboard")

    # 3. invites a colleague, who signs up through the link and joins
    page.goto(f"/{ORG}/members")
    page.get_by_label("Email address", exact=True).fill("dev@example.com")
    page.get_by_label("Role", exact=True).select_option("maintainer")
    page.get_by_role("button", name="Send invitation").click()
    invitation = MailSink.link(mail_sink.wait_for("dev@example.com", ORG))
    screenshot(page, "members")
    colleague = browser.new_context(base_url=ui_server.base_url).new_page()
    colleague.goto(invitation)
    colleague.locator("main").get_by_role("link", name=re.compile("sign up|create an account", re.I)).first.click()
    colleague.get_by_label("Username", exact=True).fill("dev")
    colleague.get_by_label("Password", exact=True).fill(PASSWORD)
    colleague.get_by_label("Repeat the password").fill(PASSWORD)
    colleague.get_by_role("button", name="Create account").click()
    colleague.wait_for_load_state()
    colleague.get_by_role("button", name=f"Join {ORG}").click()
    colleague.wait_for_load_state()
    colleague.goto(f"/{ORG}/")
    assert colleague.get_by_role("link", name="billing").first.is_visible()
    colleague.context.close()
    page.goto(f"/{ORG}/members")
    assert "dev" in page.locator("main").inner_text()

    # 4. creates a version-restricted token in the page
    page.goto(f"/{ORG}/tokens")
    page.get_by_label("Name").fill("ci read")
    page.get_by_label("Projects (optional)").fill("billing>=1,<2")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#token-secret").inner_text().strip()
    assert token.startswith("envl_")
    screenshot(page, "token-created")
    url = index_url(ui_server.base_url, ORG, token)
    env = ui_server.client_env
    pip(env, "install", "--target", str(tmp_path / "ok"), "--index-url", url, "billing==1.5.0")
    assert installed_version(tmp_path / "ok", "billing") == "1.5.0"
    refused = pip(env, "install", "--target", str(tmp_path / "no"), "--index-url", url, "billing==2.0.0", check=False)
    assert refused.returncode != 0

    # 5. yanks 1.5.0 from the project page's Manage page: pip skips it
    page.goto(f"/{ORG}/projects/billing/1.5.0/")
    screenshot(page, "project")
    page.get_by_role("link", name=re.compile("^Manage")).click()
    page.get_by_label("Reason", exact=True).fill("broken build")
    page.get_by_role("button", name="Yank 1.5.0").click()
    page.wait_for_load_state()
    pip(env, "install", "--target", str(tmp_path / "yanked"), "--index-url", url, "billing")
    assert installed_version(tmp_path / "yanked", "billing") == "1.0.0"

    page.goto(f"/{ORG}/projects/billing/2.0.0/")
    matrix = page.locator("table.matrix")
    assert matrix.is_visible() and "Invoices, credit notes" in page.locator("main").inner_text()
    screenshot(page, "project-page")

    # 6. revokes the token: pip's very next request gets 401
    page.goto(f"/{ORG}/tokens")
    screenshot(page, "tokens")
    page.get_by_role("row", name=re.compile("ci read")).get_by_role("button", name="Revoke").click()
    page.wait_for_load_state()
    result = pip(env, "download", "--no-deps", "-d", str(tmp_path / "dl"), "--index-url", url,
                 "billing==1.0.0", check=False)
    assert result.returncode != 0 and "401" in result.stdout + result.stderr

    page.goto(f"/{ORG}/repositories")
    screenshot(page, "repositories")
    page.goto(f"/{ORG}/audit")
    assert "file.yank" in page.content() or "yank" in page.locator("main").inner_text().lower()
    screenshot(page, "audit")

    # 7. on a phone, wide tables scroll inside their box; the page itself never scrolls sideways
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/{ORG}/", f"/{ORG}/members", f"/{ORG}/tokens", f"/{ORG}/projects/billing/2.0.0/",
                 f"/{ORG}/audit", f"/{ORG}/proxy", "/account/sessions"):
        page.goto(path)
        assert_fits(page, path)
    screenshot(page, "sessions-390")


def test_password_reset_by_email(page, ui_server, mail_sink) -> None:
    ui_server.cli("user", "create", "forgetful", "--email", "forgetful@example.com",
                  "--password-stdin", input="an old password\n")
    page.goto("/login")
    page.get_by_role("link", name=re.compile("Forgot", re.I)).click()
    page.get_by_label("Email address").fill("forgetful@example.com")
    page.get_by_role("button", name="Send the link").click()
    link = MailSink.link(mail_sink.wait_for("forgetful@example.com", "password"))
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new password")
    page.get_by_label("Repeat the new password").fill("a brand new password")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_load_state()
    page.goto(link)  # a reset link works once
    assert re.search(r"used|expired|no longer", page.locator("main").inner_text(), re.I)
    sign_in(page, "forgetful", "a brand new password")
    assert page.get_by_role("button", name=re.compile("Sign out", re.I)).is_visible()


def test_two_factor_enrolment_and_sign_in(page, ui_server) -> None:
    ui_server.cli("user", "create", "careful", "--email", "careful@example.com",
                  "--password-stdin", input=f"{PASSWORD}\n")
    sign_in(page, "careful")
    page.goto("/account/2fa")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    screenshot(page, "two-factor")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.wait_for_load_state()
    recovery = re.findall(r"\b[0-9a-z]{4,6}(?:-[0-9a-z]{4,6})+\b", page.locator("main").inner_text())
    assert recovery, "recovery codes are shown once"
    sign_out(page)
    sign_in(page, "careful")
    page.get_by_label("Authentication code").fill(totp.at(time.time() + 30))  # the next step: not a replay
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name=re.compile("Sign out", re.I)).is_visible()


def test_a_maintainer_archives_a_project_from_its_page(page, ui_server, tmp_path) -> None:
    """PEP 792 in the browser: the status form (radio buttons, a reason), the
    banner it leads to, and the index saying the same. Screenshots at a
    desktop and a phone width."""
    org = "statusorg"
    ui_server.cli("user", "create", "archivist", "--email", "archivist@example.com", "--password-stdin",
                  input=PASSWORD + "\n")
    ui_server.cli("org", "create", org)
    ui_server.cli("org", "add-member", org, "archivist", "--role", "maintainer")
    ui_server.cli("import", "--org", org, str(make_wheel(tmp_path, "oldlib", "1.0", extra_metadata=README)))
    sign_in(page, "archivist")
    page.goto(f"/{org}/projects/oldlib/manage")
    assert page.locator("#project-status-banner").count() == 0
    form = page.locator("form.status-form")
    form.get_by_label("Archived").check()
    form.get_by_label(re.compile("^Reason")).fill("Superseded by newlib; no further releases.")
    form.get_by_role("button", name="Set status").click()
    page.wait_for_load_state()
    banner = page.locator("#project-status-banner")
    assert "Archived." in banner.inner_text() and "Superseded by newlib" in banner.inner_text()
    assert page.get_by_text("oldlib is now archived.").is_visible()
    assert form.get_by_label("Archived").is_checked()
    screenshot(page, "project-status-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "project-status-390")
    token = ui_server.token(org, "--scope", "read")
    meta = requests.get(f"{ui_server.base_url}/{org}/simple/oldlib/", auth=("__token__", token), timeout=30,
                        headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()["project-status"]
    assert meta == {"status": "archived", "reason": "Superseded by newlib; no further releases."}
