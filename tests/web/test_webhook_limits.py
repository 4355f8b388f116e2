"""POST /hooks/github reads its body before the signature can be checked, so
anyone may send one: no more than GitHub's own 25 MB limit is ever read."""
from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from envelope.orgs.organizations import create_organization
from envelope.models import WebhookDelivery
from envelope.github.repositories import add_repository
from tests.fake_github import sign_payload
from web.machine.hooks import MAX_PAYLOAD

HOOK = "/hooks/github"
HEADERS = {"X-GitHub-Event": "release", "X-GitHub-Delivery": "d-1", "Content-Type": "application/json",
           "X-Hub-Signature-256": "sha256=" + "0" * 64}


class Unreadable(io.RawIOBase):
    """A body that must not be read: its declared length is over the limit."""

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def deliveries(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery))


def test_limit_is_githubs():
    assert MAX_PAYLOAD == 25 * 1024**2


def test_declared_length_over_25_mib_is_refused_before_reading(app, db):
    response = app.test_client().post(HOOK, headers=HEADERS, environ_overrides={
        "wsgi.input": Unreadable(), "CONTENT_LENGTH": str(MAX_PAYLOAD + 1)})
    assert response.status_code == 413
    assert f"at most {MAX_PAYLOAD} bytes" in response.status  # the reason phrase, for people
    assert deliveries(db) == 0


def test_chunked_body_over_25_mib_is_cut_off_and_refused(app, db):
    body = json.dumps({"repository": {"full_name": "acme/x"}, "pad": "x" * MAX_PAYLOAD}).encode()
    response = app.test_client().post(HOOK, data=body, headers={**HEADERS, "Transfer-Encoding": "chunked"},
                                      environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert deliveries(db) == 0


def test_bodies_up_to_the_limit_are_read_whole(app, db, settings):
    with db.write() as session:
        org = create_organization(session, "acme", actor="tests")
        secret = add_repository(session, settings.secret_key, org, "acme/x", github_token=None,
                                actor="tests").webhook_secret
    body = json.dumps({"repository": {"full_name": "acme/x"}, "pad": ""}).encode()
    body = body.replace(b'"pad": ""', b'"pad": "' + b"x" * (MAX_PAYLOAD - len(body)) + b'"')
    assert len(body) == MAX_PAYLOAD
    headers = {**HEADERS, "X-GitHub-Event": "ping", "X-Hub-Signature-256": sign_payload(secret, body)}
    for extra in ({}, {"Transfer-Encoding": "chunked"}):
        response = app.test_client().post(HOOK, data=body, headers={**headers, **extra},
                                          environ_overrides={"wsgi.input_terminated": True})
        assert response.status_code == 200 and response.get_json()["message"] == "pong"
