"""Billing on every backend (embedded SQLite + files, PostgreSQL + S3), with
`envelope serve` and the fake Stripe over real HTTP both ways: an owner
subscribes through Checkout, Stripe's signed webhook moves the organization
to the paid plan, twine can then store more; the subscription ends, eight
concurrent deliveries of that event act once, the organization falls back to
the default plan, nothing stored is deleted, and twine reads the refusal of
an upload past the smaller limit."""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.builders import make_wheel
from tests.fake_stripe import FakeStripe
from tests.integration.clients import pip, twine_upload

ORG = "paying-co"
PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe(prices={"price_team": "team"}) as fake:
        yield fake


@pytest.fixture(scope="module")
def server_env(stripe_fake: FakeStripe) -> dict[str, str]:
    return {"ENVELOPE_STRIPE_SECRET_KEY": stripe_fake.api_key, "ENVELOPE_STRIPE_WEBHOOK_SECRET": stripe_fake.webhook_secret,
            "ENVELOPE_STRIPE_API_URL": stripe_fake.url}


def sign_in(server, username: str) -> requests.Session:
    browser = requests.Session()
    csrf = CSRF_INPUT.search(browser.get(server.url("/login"), timeout=30).text).group(1)
    answer = browser.post(server.url("/login"), data={"csrf_token": csrf, "login": username, "password": PASSWORD},
                          timeout=30)
    assert answer.status_code == 200 and not answer.url.endswith("/login"), answer.text
    browser.headers["X-CSRFToken"] = csrf
    browser.csrf = csrf  # type: ignore[attr-defined]
    return browser


def usage(browser: requests.Session, server) -> dict:
    return browser.get(server.url(f"/api/v1/orgs/{ORG}/usage"), timeout=30).json()


def test_a_signed_stripe_webhook_moves_the_plan_and_an_ended_subscription_falls_back(
        server, stripe_fake: FakeStripe, tmp_path: Path) -> None:
    stripe_fake.reset()
    stripe_fake.webhook_url = server.url("/hooks/stripe")
    small = make_wheel(tmp_path / "dist", "ledger", "1.0")
    big = make_wheel(tmp_path / "dist", "ledger", "2.0", files={"ledger/blob.bin": os.urandom(64 * 1024)})
    server.cli("plan", "set", "free", "--storage", str(small.stat().st_size + 1000), "--default")
    server.cli("plan", "set", "team", "--storage", "10GB", "--stripe-price", "price_team")
    server.cli("user", "create", "olga", "--email", "olga@example.com", "--password-stdin", input=PASSWORD + "\n")
    server.cli("org", "create", ORG, "--owner", "olga")
    upload = server.token(ORG, "--scope", "upload")
    twine_upload(server.client_env, server.base_url, ORG, upload, [small])
    olga = sign_in(server, "olga")
    assert usage(olga, server)["plan"] == "free"

    # Checkout: Envelope sends olga to Stripe; paying there sends Stripe's signed events back.
    started = olga.post(server.url(f"/{ORG}/billing/checkout"), data={"plan": "team", "csrf_token": olga.csrf},
                        allow_redirects=False, timeout=30)
    assert started.status_code == 303 and started.headers["Location"].startswith(f"{stripe_fake.url}/c/pay/cs_test_")
    assert "Subscribe to team" in requests.get(started.headers["Location"], timeout=30).text
    paid = requests.post(started.headers["Location"], allow_redirects=False, timeout=30)
    assert paid.headers["Location"] == server.url(f"/{ORG}/billing?checkout=done")
    assert [d.status for d in stripe_fake.deliveries] == [200, 200, 200], [d.body for d in stripe_fake.deliveries]
    assert usage(olga, server)["plan"] == "team" and usage(olga, server)["billing"]["status"] == "active"
    twine_upload(server.client_env, server.base_url, ORG, upload, [big])  # past free's limit, within team's

    # The subscription ends; Stripe (or a replayer) delivers the event eight times at once.
    sub = next(iter(stripe_fake.subscriptions.values()))
    stripe_fake.subscriptions[sub["id"]].update(status="canceled")
    event = stripe_fake.event("customer.subscription.deleted", stripe_fake.subscriptions[sub["id"]])
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(stripe_fake.send(event).status)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 8
    assert usage(olga, server)["plan"] == "free"
    audit = olga.get(server.url(f"/api/v1/orgs/{ORG}/audit"), params={"action": "billing.downgrade"}, timeout=30).json()
    downgrades = [e for e in audit["events"] if e["action"] == "billing.downgrade"]
    assert len(downgrades) == 1, audit

    # Nothing was deleted: both versions still install; a new upload past free's limit is refused.
    read = server.token(ORG, "--scope", "read")
    got = pip(server.client_env, "download", "--no-deps", "--no-cache-dir", "-d", str(tmp_path / "dl"),
              "--index-url", server.index_url(ORG, read), "ledger==1.0")
    assert "Saved" in got.stdout
    pip(server.client_env, "download", "--no-deps", "--no-cache-dir", "-d", str(tmp_path / "dl"),
        "--index-url", server.index_url(ORG, read), "ledger==2.0")
    refused = twine_upload(server.client_env, server.base_url, ORG, upload,
                           [make_wheel(tmp_path / "dist", "ledger", "3.0")], check=False)
    output = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode != 0 and "HTTPError: 413 " in output and "Storage quota exceeded" in output
