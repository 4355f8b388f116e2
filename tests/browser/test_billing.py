"""Billing in Chromium against `envelope serve` and the fake Stripe: the
owner picks a plan on /acme/billing, pays on (the fake) Stripe Checkout,
comes back to the new plan; a failed renewal shows the downgrade date; in
(the fake) customer portal they cancel, and acme is on the default plan
again. The billing page fits at 1280 and 390 px in each state."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.layout import check_widths, visit
from tests.browser.test_journeys import PASSWORD, sign_in
from tests.fake_stripe import FakeStripe
from tests.services import EnvelopeServer, free_port

ORG = "acme"


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe(prices={"price_team": "team", "price_business": "business"}) as fake:
        yield fake


@pytest.fixture(scope="module")
def billing_server(stripe_fake, tmp_path_factory) -> Iterator[EnvelopeServer]:
    port = free_port()
    server = EnvelopeServer(tmp_path_factory.mktemp("billing-server"), port=port, extra_env={
        "ENVELOPE_BASE_URL": f"http://127.0.0.1:{port}",
        "ENVELOPE_STRIPE_SECRET_KEY": stripe_fake.api_key,
        "ENVELOPE_STRIPE_WEBHOOK_SECRET": stripe_fake.webhook_secret,
        "ENVELOPE_STRIPE_API_URL": stripe_fake.url,
    })
    server.start()
    stripe_fake.webhook_url = server.url("/hooks/stripe")
    try:
        server.cli("plan", "set", "free", "--storage", "500MB", "--members", "3", "--default")
        server.cli("plan", "set", "team", "--storage", "10GB", "--downloads", "100GB", "--members", "20",
                   "--stripe-price", "price_team")
        server.cli("plan", "set", "business", "--storage", "100GB", "--stripe-price", "price_business")
        server.cli("user", "create", "lead", "--email", "lead@example.com", "--password-stdin", input=PASSWORD + "\n")
        server.cli("org", "create", ORG, "--owner", "lead")
        yield server
    finally:
        server.stop()


@pytest.fixture
def tab(browser, billing_server):
    context = browser.new_context(base_url=billing_server.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_subscribe_fail_and_cancel_in_the_browser(tab, billing_server, stripe_fake) -> None:
    page = tab
    sign_in(page, "lead")
    visit(page, f"/{ORG}/billing", "billing-free")
    assert page.locator("header nav [aria-current]").all_inner_texts() == ["Billing"]
    assert "Without a subscription, acme is on the free plan." in page.locator("main").inner_text()

    page.get_by_role("button", name="Subscribe to team").click()
    page.wait_for_url(f"{stripe_fake.url}/c/pay/*")
    page.get_by_role("button", name="Pay and subscribe").click()
    page.wait_for_url(f"**/{ORG}/billing?checkout=done")
    page.reload()  # the events arrived while the fake answered: the page shows the new plan
    text = page.locator("main").inner_text()
    assert "team (current)" in text and "active" in text
    check_widths(page, "billing-subscribed", docs="billing")

    sub = next(iter(stripe_fake.subscriptions.values()))
    stripe_fake.fail_payment(sub["id"])
    visit(page, f"/{ORG}/billing", "billing-unpaid")
    warning = page.locator(".notice.warning").inner_text()
    assert warning.startswith("A payment failed.") and "moves to the free plan" in warning

    page.get_by_role("button", name="Manage subscription and invoices").click()
    page.wait_for_url(f"{stripe_fake.url}/p/session/*")
    page.get_by_role("button", name="Cancel subscription").click()
    page.wait_for_url(f"**/{ORG}/billing")
    text = page.locator("main").inner_text()
    assert "Plan\nfree" in text and "canceled" in text and "Subscribe to team" in text
    check_widths(page, "billing-canceled")
