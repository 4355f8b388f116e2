"""A local fake of Stripe's API, Checkout and customer portal, for the billing tests.

Stripe cannot be reached from here, so, as with GitHub, a small HTTP server
stands in for it: the official `stripe` library talks to it over HTTP (form-
encoded requests, Bearer key, Stripe's object and error shapes), a browser can
pay on its Checkout page and cancel or switch plans in its portal, and it
sends events the way Stripe does: Stripe's event envelope, signed with the
endpoint's secret in a `Stripe-Signature: t=…,v1=…` header (HMAC-SHA256 of
"t.body"). What the real Stripe does with cards, invoices and retries is out
of scope; the tests drive payment failures and recoveries through methods.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API_VERSION = "2025-03-31.basil"
Deliver = Callable[[bytes, dict[str, str]], tuple[int, str]]


def sign(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """Stripe's webhook signature header for the payload."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (line_items[0][price]=…) back into objects and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        path = re.findall(r"^[^\[]+|\[([^\]]*)\]", key)
        parts = [key.split("[", 1)[0]] + path[1:]
        node = root
        for part, following in zip(parts, parts[1:]):
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class Delivery:
    event: dict[str, Any]
    status: int
    body: str


@dataclass
class FakeStripe:
    api_key: str = "sk_test_envelope"
    webhook_secret: str = "whsec_envelope"
    webhook_url: str | None = None  # where events go (requests.post), unless `deliver` is set
    deliver: Deliver | None = None  # or a function (the Flask test client)
    prices: dict[str, str] = field(default_factory=dict)  # price id -> label, for the portal's switch buttons
    customers: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    checkout_sessions: dict[str, dict] = field(default_factory=dict)
    portal_sessions: dict[str, dict] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of API calls
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._server = None

    # ------------------------------------------------------------------ server
    def start(self) -> "FakeStripe":
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        """Forget every object and delivery (a module-wide fake, between backends)."""
        with self._lock:
            for store in (self.customers, self.subscriptions, self.checkout_sessions, self.portal_sessions):
                store.clear()
            self.deliveries.clear()
            self.requests.clear()

    def __enter__(self) -> "FakeStripe":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @Request.application
    def _app(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/v1/"):
            self.requests.append((request.method, path))
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return _error(401, "Invalid API Key provided: sk_test_****", "invalid_request_error")
            params = parse_form(request.get_data(as_text=True)) if request.method == "POST" else {}
            return self._api(request.method, path, params)
        if match := re.fullmatch(r"/c/pay/(cs_\w+)", path):
            return self._checkout_page(request, match.group(1))
        if match := re.fullmatch(r"/p/session/(bps_\w+)(?:/(switch|cancel))?", path):
            return self._portal_page(request, match.group(1), match.group(2))
        return _error(404, f"Unrecognized request URL (GET: {path}).", "invalid_request_error")

    def _api(self, method: str, path: str, params: dict[str, Any]) -> Response:
        with self._lock:
            if method == "POST" and path == "/v1/checkout/sessions":
                return _json(self._create_checkout(params))
            if method == "POST" and path == "/v1/billing_portal/sessions":
                customer = params.get("customer")
                if customer not in self.customers:
                    return _error(400, f"No such customer: '{customer}'", "invalid_request_error", param="customer")
                session = {"id": _id("bps"), "object": "billing_portal.session", "customer": customer,
                           "return_url": params.get("return_url"), "created": int(time.time()), "livemode": False}
                session["url"] = f"{self.url}/p/session/{session['id']}"
                self.portal_sessions[session["id"]] = session
                return _json(session)
            if method == "GET" and (match := re.fullmatch(r"/v1/subscriptions/(sub_\w+)", path)):
                sub = self.subscriptions.get(match.group(1))
                if sub is None:
                    return _error(404, f"No such subscription: '{match.group(1)}'", "invalid_request_error")
                return _json(sub)
        return _error(404, f"Unrecognized request URL ({method}: {path}).", "invalid_request_error")

    def _create_checkout(self, params: dict[str, Any]) -> dict[str, Any]:
        session = {
            "id": _id("cs_test"), "object": "checkout.session", "mode": params.get("mode"), "status": "open",
            "payment_status": "unpaid", "customer": params.get("customer"),
            "customer_email": params.get("customer_email"), "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {}, "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"), "subscription": None, "created": int(time.time()),
            "livemode": False, "line_items": params.get("line_items") or [],
            "subscription_data": params.get("subscription_data") or {},
        }
        session["url"] = f"{self.url}/c/pay/{session['id']}"
        self.checkout_sessions[session["id"]] = session
        return {k: v for k, v in session.items() if k not in ("line_items", "subscription_data")}

    def _checkout_page(self, request: Request, session_id: str) -> Response:
        session = self.checkout_sessions.get(session_id)
        if session is None:
            return Response("No such checkout session", status=404)
        if request.method == "POST":
            self.complete_checkout(session_id)
            return Response(status=303, headers={"Location": session["success_url"]})
        price = session["line_items"][0]["price"]
        return _page("Checkout", f"""<h1>Subscribe to {html.escape(self.prices.get(price, price))}</h1>
            <p>{html.escape(session.get('customer_email') or '')}</p>
            <form method="post"><button type="submit">Pay and subscribe</button></form>
            <p><a href="{html.escape(session['cancel_url'])}">Back</a></p>""")

    def _portal_page(self, request: Request, session_id: str, action: str | None) -> Response:
        session = self.portal_sessions.get(session_id)
        if session is None:
            return Response("No such portal session", status=404)
        subs = [s for s in self.subscriptions.values() if s["customer"] == session["customer"] and s["status"] != "canceled"]
        if request.method == "POST" and subs:
            if action == "switch":
                self.switch_price(subs[0]["id"], request.form["price"])
            elif action == "cancel":
                self.cancel(subs[0]["id"])
            return Response(status=303, headers={"Location": session["return_url"]})
        rows = "".join(
            f"""<form method="post" action="/p/session/{session_id}/switch"><input type="hidden" name="price"
                value="{html.escape(p)}"><button type="submit">Switch to {html.escape(label)}</button></form>"""
            for p, label in self.prices.items() if subs and p != _price_of(subs[0]))
        current = html.escape(self.prices.get(_price_of(subs[0]), "?")) if subs else "no subscription"
        return _page("Customer portal", f"""<h1>Your subscription: {current}</h1>{rows}
            {f'<form method="post" action="/p/session/{session_id}/cancel"><button type="submit">Cancel subscription</button></form>' if subs else ''}
            <p><a href="{html.escape(session['return_url'])}">Return to Envelope</a></p>""")

    # ------------------------------------------------------- what Stripe does
    def complete_checkout(self, session_id: str, *, order: str = "subscription-first") -> dict[str, Any]:
        """Pay: a customer (unless the session named one), an active
        subscription, then its events. Stripe promises no order; by default the
        subscription's event comes before the session's."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            customer_id = session["customer"]
            if customer_id is None:
                customer_id = _id("cus")
                self.customers[customer_id] = {"id": customer_id, "object": "customer",
                                               "email": session["customer_email"], "created": int(time.time())}
            now = int(time.time())
            sub = {
                "id": _id("sub"), "object": "subscription", "customer": customer_id, "status": "active",
                "metadata": (session["subscription_data"] or {}).get("metadata") or {},
                "created": now, "start_date": now, "cancel_at_period_end": False, "canceled_at": None,
                "items": {"object": "list", "has_more": False, "url": "/v1/subscription_items", "data": [{
                    "id": _id("si"), "object": "subscription_item", "quantity": 1,
                    "price": {"id": session["line_items"][0]["price"], "object": "price", "currency": "eur",
                              "recurring": {"interval": "month", "interval_count": 1}},
                    "current_period_start": now, "current_period_end": now + 30 * 86400,
                }]},
                "livemode": False,
            }
            self.subscriptions[sub["id"]] = sub
            session.update(status="complete", payment_status="paid", customer=customer_id, subscription=sub["id"])
            public_session = {k: v for k, v in session.items() if k not in ("line_items", "subscription_data")}
        events = [self.event("customer.subscription.created", sub), self.event("checkout.session.completed", public_session),
                  self.event("invoice.paid", self._invoice(sub, paid=True))]
        if order == "session-first":
            events[0], events[1] = events[1], events[0]
        for event in events:
            self.send(event)
        return sub

    def switch_price(self, subscription_id: str, price: str) -> None:
        with self._lock:
            sub = self.subscriptions[subscription_id]
            previous = {"items": json.loads(json.dumps(sub["items"]))}
            sub["items"]["data"][0]["price"] = {**sub["items"]["data"][0]["price"], "id": price}
        self.send(self.event("customer.subscription.updated", sub, previous))

    def cancel_at_period_end(self, subscription_id: str) -> None:
        """The portal's default cancellation: the subscription runs to the period's end."""
        with self._lock:
            sub = self.subscriptions[subscription_id]
            sub["cancel_at_period_end"] = True
        self.send(self.event("customer.subscription.updated", sub, {"cancel_at_period_end": False}))

    def cancel(self, subscription_id: str) -> None:
        with self._lock:
            sub = self.subscriptions[subscription_id]
            sub.update(status="canceled", canceled_at=int(time.time()), ended_at=int(time.time()))
        self.send(self.event("customer.subscription.deleted", sub))

    def fail_payment(self, subscription_id: str) -> None:
        """A renewal's charge fails: the invoice's event, then the subscription goes past_due."""
        with self._lock:
            sub = self.subscriptions[subscription_id]
            sub["status"] = "past_due"
        self.send(self.event("invoice.payment_failed", self._invoice(sub, paid=False)))
        self.send(self.event("customer.subscription.updated", sub, {"status": "active"}))

    def recover_payment(self, subscription_id: str) -> None:
        with self._lock:
            sub = self.subscriptions[subscription_id]
            sub["status"] = "active"
        self.send(self.event("invoice.paid", self._invoice(sub, paid=True)))

    def _invoice(self, sub: dict[str, Any], *, paid: bool) -> dict[str, Any]:
        # API 2025-03-31: the subscription is under parent.subscription_details.
        return {"id": _id("in"), "object": "invoice", "customer": sub["customer"], "status": "paid" if paid else "open",
                "attempt_count": 1, "billing_reason": "subscription_cycle",
                "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"], "metadata": {}}}}

    # --------------------------------------------------------------- events
    def event(self, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"object": json.loads(json.dumps(obj))}
        if previous is not None:
            data["previous_attributes"] = previous
        return {"id": _id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
                "data": data, "livemode": False, "pending_webhooks": 1,
                "request": {"id": _id("req"), "idempotency_key": None}, "type": type_}

    def send(self, event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None,
             body: bytes | None = None) -> Delivery:
        """Deliver one event as Stripe does; `secret`/`timestamp`/`body` forge a bad one."""
        payload = body if body is not None else json.dumps(event, indent=2).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                   "Stripe-Signature": sign(secret or self.webhook_secret, payload, timestamp)}
        if self.deliver is not None:
            status, text = self.deliver(payload, headers)
        else:
            assert self.webhook_url, "set webhook_url or deliver before sending events"
            response = requests.post(self.webhook_url, data=payload, headers=headers, timeout=30)
            status, text = response.status_code, response.text
        delivery = Delivery(event, status, text)
        self.deliveries.append(delivery)
        return delivery


def _price_of(sub: dict[str, Any]) -> str:
    return sub["items"]["data"][0]["price"]["id"]


def _json(obj: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json",
                    headers={"Request-Id": _id("req"), "Stripe-Version": API_VERSION})


def _error(status: int, message: str, type_: str, **extra: str) -> Response:
    return _json({"error": {"message": message, "type": type_, **extra}}, status)


def _page(title: str, body: str) -> Response:
    return Response(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
        <meta name="viewport" content="width=device-width"></head><body>{body}</body></html>""",
                    content_type="text/html; charset=utf-8")
