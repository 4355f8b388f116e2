"""Billing through Stripe on the real app (SQLite), against the fake Stripe
(tests/fake_stripe) over HTTP: the official library creates Checkout and
portal sessions there, and the fake's signed events come back to
/hooks/stripe through the test client, as Stripe's would over the network.

Plans map to quotas, so every plan change below is also a change of limits."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from envelope import plans, quotas
from envelope.billing.subscriptions import enforce_grace
from envelope.billing.webhooks import forget_old_events
from envelope.config import Settings
from envelope.models import AuditEvent, BillingAccount, File, MailMessage, Organization, StripeEvent
from envelope.models.base import utcnow
from envelope.orgs.organizations import create_organization
from envelope.sealing import unseal
from tests.fake_stripe import FakeStripe
from tests.webui.conftest import World
from tests.webui.test_cli_parity import cli_error, envelope

GB = 10**9


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe(prices={"price_team": "team", "price_business": "business"}) as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path, stripe_fake: FakeStripe) -> Settings:
    import shutil

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    return Settings.from_env({
        "ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40,
        "ENVELOPE_BASE_URL": "https://pkgs.example.com", "ENVELOPE_AUTH_CACHE_SECONDS": "0",
        "ENVELOPE_STRIPE_SECRET_KEY": stripe_fake.api_key, "ENVELOPE_STRIPE_WEBHOOK_SECRET": stripe_fake.webhook_secret,
        "ENVELOPE_STRIPE_API_URL": stripe_fake.url, "ENVELOPE_BILLING_GRACE_DAYS": "14",
    })


@pytest.fixture
def billed(world: World, stripe_fake: FakeStripe) -> World:
    """acme and its plans: free (the default), team and business sold through Stripe."""
    client = world.app.test_client()
    lock = threading.Lock()  # the fake delivers from its own threads; the test client is not thread-safe

    def deliver(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        with lock:
            answer = client.post("/hooks/stripe", data=body, headers=headers)
        return answer.status_code, answer.get_data(as_text=True)

    stripe_fake.deliver = deliver
    with world.db.write() as session:
        plans.define_plan(session, "free", quotas.Limits(storage_bytes=GB // 10, members=3), default=True)
        plans.define_plan(session, "team", quotas.Limits(storage_bytes=10 * GB, members=20), stripe_price="price_team")
        plans.define_plan(session, "business", quotas.Limits(storage_bytes=100 * GB), stripe_price="price_business")
        plans.assign_plan(session, world.acme, "free", actor="tests")
    return world


def plan_of(world: World) -> str | None:
    with world.db.read() as session:
        return plans.plan_of(session, world.acme.id)


def actions(world: World, prefix: str = "billing.") -> list[tuple[str, str]]:
    with world.db.read() as session:
        return [(e.action, e.actor) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id))]


def mails(world: World) -> list[tuple[str, str, str]]:
    key = world.app.extensions["envelope"].settings.secret_key
    with world.db.read() as session:
        return [(m.recipient, m.subject, unseal(key, m.body_sealed))
                for m in session.scalars(select(MailMessage).order_by(MailMessage.id))]


def checkout(world: World, stripe_fake: FakeStripe, plan: str) -> str:
    """olivia (owner) picks a plan: Envelope answers with a redirect to the fake's Checkout."""
    answer = world.browser("olivia").post("/acme/billing/checkout", {"plan": plan})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    session_id = answer.headers["Location"].rsplit("/", 1)[1]
    assert answer.headers["Location"] == f"{stripe_fake.url}/c/pay/{session_id}"
    return session_id


@pytest.mark.parametrize("order", ["subscription-first", "session-first"])
def test_an_owner_subscribes_switches_and_cancels_through_stripe(billed: World, stripe_fake: FakeStripe, order: str):
    world = billed
    page = world.browser("olivia").get("/acme/billing").get_data(as_text=True)
    assert "Subscribe to team" in page and "Subscribe to business" in page and "Manage subscription" not in page
    assert 'href="/acme/billing"' in page  # the section link, shown because billing is on

    session_id = checkout(world, stripe_fake, "team")
    sent = stripe_fake.checkout_sessions[session_id]
    # Links back come from ENVELOPE_BASE_URL, not from the request's Host (localhost here).
    assert sent["success_url"] == "https://pkgs.example.com/acme/billing?checkout=done"
    assert sent["cancel_url"] == "https://pkgs.example.com/acme/billing"
    assert sent["customer_email"] == "olivia@example.com" and sent["client_reference_id"] == str(world.acme.id)
    assert sent["line_items"] == [{"price": "price_team", "quantity": "1"}]
    assert plan_of(world) == "free"  # nothing changes until Stripe says it is paid

    sub = stripe_fake.complete_checkout(session_id, order=order)
    assert [d.status for d in stripe_fake.deliveries] == [200, 200, 200], stripe_fake.deliveries
    assert plan_of(world) == "team"
    with world.db.read() as session:
        assert quotas.get_limits(session, world.acme.id).storage_bytes == 10 * GB
        account = session.get(BillingAccount, world.acme.id)
        assert (account.subscription_id, account.status, account.price_id) == (sub["id"], "active", "price_team")
        assert account.current_period_end is not None
    assert actions(world) == [("billing.checkout", "user olivia"), ("billing.plan", "Stripe")]
    page = world.browser("olivia").get("/acme/billing").get_data(as_text=True)
    assert "team <span class=\"muted\">(current)</span>" in page and "Manage subscription and invoices" in page
    assert "Subscribe to" not in page  # one subscription at a time: changes go through the portal
    assert world.browser("olivia").post("/acme/billing/checkout", {"plan": "business"}).status_code == 400

    portal = world.browser("olivia").post("/acme/billing/portal")
    assert portal.status_code == 303 and portal.headers["Location"].startswith(f"{stripe_fake.url}/p/session/bps_")
    portal_session = next(iter(stripe_fake.portal_sessions.values()))
    assert portal_session["return_url"] == "https://pkgs.example.com/acme/billing"
    assert portal_session["customer"] == sub["customer"]

    stripe_fake.switch_price(sub["id"], "price_business")
    assert plan_of(world) == "business"
    stripe_fake.cancel_at_period_end(sub["id"])  # cancelled in the portal: runs to the period's end
    assert plan_of(world) == "business"
    page = " ".join(world.browser("rita").get("/acme/billing").get_data(as_text=True).split())
    assert "<dt>Ends</dt>" in page and ", then acme is on the free plan</dd>" in page
    stripe_fake.cancel(sub["id"])  # the period ends
    assert plan_of(world) == "free"  # the default plan: nothing deleted, smaller limits
    assert actions(world)[-2:] == [("billing.plan", "Stripe"), ("billing.downgrade", "Stripe")]
    assert mails(world)[-1][:2] == ("olivia@example.com", "acme is now on the free plan")
    api = world.browser("rita").api("GET", "/api/v1/orgs/acme/usage").get_json()
    assert api["plan"] == "free" and api["billing"]["status"] == "canceled"


def test_the_webhook_takes_only_fresh_signed_events_once(billed: World, stripe_fake: FakeStripe):
    world = billed
    session_id = checkout(world, stripe_fake, "team")
    stripe_fake.deliver, deliver = (lambda body, headers: (0, "not delivered")), stripe_fake.deliver
    stripe_fake.complete_checkout(session_id)  # paid, but its events are lost on the way
    stripe_fake.deliver = deliver
    sub = next(iter(stripe_fake.subscriptions.values()))
    event = stripe_fake.event("customer.subscription.created", sub)
    client = world.app.test_client()

    assert client.post("/hooks/stripe", data=b"{}").status_code == 400  # no signature
    forged = stripe_fake.send(event, secret="whsec_someone_else")
    assert forged.status == 400 and "does not match" in forged.body
    stale = stripe_fake.send(event, timestamp=int(utcnow().timestamp()) - 600)  # a captured request, replayed later
    assert stale.status == 400 and "older than five minutes" in stale.body
    assert stripe_fake.send(event, body=b"not json").status == 400
    assert plan_of(world) == "free" and actions(world) == [("billing.checkout", "user olivia")]

    first = stripe_fake.send(event)
    assert (first.status, json.loads(first.body)["message"]) == (200, "Processed: plan-changed.")
    again = stripe_fake.send(event)  # Stripe redelivers, or someone replays within the five minutes
    assert (again.status, json.loads(again.body)["message"]) == (200, "Already processed.")
    assert actions(world) == [("billing.checkout", "user olivia"), ("billing.plan", "Stripe")]
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(StripeEvent)) == 1
        assert session.get(StripeEvent, event["id"]).outcome == "plan-changed"
    assert forget_old_events(world.db, now=utcnow() + timedelta(days=29)) == 0
    assert forget_old_events(world.db, now=utcnow() + timedelta(days=31)) == 1  # no redelivery comes that late

    # An event for a customer no one here knows is recorded and changes nothing.
    stranger = {**sub, "id": "sub_unknown", "customer": "cus_unknown", "metadata": {}}
    stripe_fake.subscriptions["sub_unknown"] = stranger
    answer = stripe_fake.send(stripe_fake.event("customer.subscription.updated", stranger))
    assert json.loads(answer.body)["message"] == "Processed: unknown-customer."
    assert plan_of(world) == "team"


def test_an_unpaid_subscription_keeps_its_plan_for_the_grace_period_then_falls_back(billed: World, stripe_fake: FakeStripe):
    world = billed
    settings = world.app.extensions["envelope"].settings
    sub = stripe_fake.complete_checkout(checkout(world, stripe_fake, "team"))
    world.wheel("kept", "1.0")
    stripe_fake.fail_payment(sub["id"])
    assert plan_of(world) == "team"
    with world.db.read() as session:
        failed_at = session.get(BillingAccount, world.acme.id).past_due_since
    assert failed_at is not None
    owner_mail = mails(world)[-1]
    assert owner_mail[:2] == ("olivia@example.com", "acme: a payment failed")
    due = (failed_at + timedelta(days=14)).strftime("%Y-%m-%d")
    assert f"Unless it is paid by {due} (UTC), acme moves to the instance's default plan." in owner_mail[2]
    page = " ".join(world.browser("olivia").get("/acme/billing").get_data(as_text=True).split())
    assert f"unless it is paid by <strong>{due}</strong> (UTC), acme moves to the free plan" in page
    assert world.browser("rita").api("GET", "/api/v1/orgs/acme/usage").get_json()["billing"]["status"] == "past_due"

    assert enforce_grace(world.db, settings, now=failed_at + timedelta(days=13)) == 0
    assert plan_of(world) == "team"
    assert enforce_grace(world.db, settings, now=failed_at + timedelta(days=14, minutes=1)) == 1
    assert plan_of(world) == "free"
    assert enforce_grace(world.db, settings, now=failed_at + timedelta(days=15)) == 0  # once
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(File)) == 1  # never deletes data
    assert [a for a, _ in actions(world)][-2:] == ["billing.unpaid", "billing.downgrade"]

    stripe_fake.recover_payment(sub["id"])  # paid at last: the plan comes back
    assert plan_of(world) == "team"
    with world.db.read() as session:
        assert session.get(BillingAccount, world.acme.id).past_due_since is None


def test_billing_pages_follow_the_access_model(billed: World, stripe_fake: FakeStripe):
    world = billed
    assert world.browser("otto").get("/acme/billing").status_code == 404  # outsiders learn nothing
    assert world.browser("otto").post("/acme/billing/checkout", {"plan": "team"}).status_code == 404
    reader = world.browser("rita").get("/acme/billing").get_data(as_text=True)
    assert "Owners of acme choose its plan." in reader and "Subscribe to" not in reader
    assert world.browser("max").post("/acme/billing/checkout", {"plan": "team"}).status_code == 403
    assert world.browser("max").post("/acme/billing/portal").status_code == 403
    assert world.browser("olivia").post("/acme/billing/checkout", {"plan": "team"}, csrf=False).status_code == 400
    refused = world.browser("olivia").post("/acme/billing/checkout", {"plan": "free"})
    assert refused.status_code == 400 and "Plan free is not sold through Stripe." in refused.get_data(as_text=True)
    assert world.browser("olivia").post("/acme/billing/portal").status_code == 400  # no customer yet
    assert stripe_fake.checkout_sessions == {} and actions(world) == []


def test_stripe_failing_is_one_sentence_and_changes_nothing(billed: World, stripe_fake: FakeStripe):
    world = billed
    stripe_fake.api_key = "sk_test_rotated"  # Stripe now refuses Envelope's key
    answer = world.browser("olivia").post("/acme/billing/checkout", {"plan": "team"})
    assert answer.status_code == 503
    assert "Stripe could not start a checkout just now; nothing changed, try again in a minute." in answer.get_data(as_text=True)
    assert actions(world) == []

    # An event whose subscription cannot be looked up is not recorded: Stripe retries it later.
    stripe_fake.api_key = "sk_test_envelope"
    sub = stripe_fake.complete_checkout(checkout(world, stripe_fake, "team"))
    stripe_fake.api_key = "sk_test_rotated"
    event = stripe_fake.event("customer.subscription.deleted", {**sub, "status": "canceled"})
    assert stripe_fake.send(event).status == 503
    with world.db.read() as session:
        assert session.get(StripeEvent, event["id"]) is None
    stripe_fake.api_key = "sk_test_envelope"
    stripe_fake.subscriptions[sub["id"]]["status"] = "canceled"
    assert stripe_fake.send(event).status == 200
    assert plan_of(world) == "free"


def test_billing_is_absent_unless_configured(world: World, stripe_fake: FakeStripe, tmp_path: Path, migrated_sqlite: Path):
    from web import create_app
    import shutil

    data_dir = tmp_path / "plain"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "envelope.db")
    app = create_app(Settings.from_env({"ENVELOPE_DATA_DIR": str(data_dir), "ENVELOPE_SECRET_KEY": "s" * 40}))
    try:
        client = app.test_client()
        assert client.post("/hooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}).status_code == 404
        assert client.get("/acme/billing").status_code == 404
    finally:
        app.extensions["envelope"].db.dispose()


def test_new_organizations_join_the_default_plan_and_the_cli_prices_plans(billed: World):
    world = billed
    with world.db.write() as session:
        org = create_organization(session, "newco", actor="tests")
        assert plans.plan_of(session, org.id) == "free"
    out = envelope(world, "plan", "set", "team", "--storage", "20GB", "--stripe-price", "price_team2").stdout
    assert out.strip() == "Plan team: storage 20 GB, downloads no limit, members no limit; 0 organizations on it; sold as Stripe price price_team2."
    out = envelope(world, "plan", "set", "starter", "--storage", "1GB", "--default").stdout
    assert out.strip() == "Plan starter: storage 1 GB, downloads no limit, members no limit; 0 organizations on it; the default plan."
    listed = {p["name"]: p for p in json.loads(envelope(world, "plan", "list", "--json").stdout)}
    assert (listed["team"]["stripe_price"], listed["starter"]["default"], listed["free"]["default"]) == (
        "price_team2", True, False)
    assert cli_error(envelope(world, "plan", "set", "x", "--stripe-price", "prod_123", ok=False)) == (
        "'prod_123' is not a Stripe price id: copy it from the price in Stripe's dashboard (it starts with price_).")
    assert cli_error(envelope(world, "plan", "set", "y", "--stripe-price", "price_business", ok=False)) == (
        "Stripe price price_business already pays for plan business.")
    with world.db.read() as session:
        assert session.scalar(select(Organization.name).where(Organization.name == "newco")) == "newco"
