"""Webhook intake on a real SQLite database: signatures, recording, replays."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from envelope.errors import Forbidden, InvalidInput, Unauthorized
from envelope.models import OutboxMessage, SyncRun, WebhookDelivery
from envelope.github.repositories import add_repository
from envelope.github.webhooks import receive_webhook, signature_matches

KEY = "server-secret-key"


@pytest.fixture
def secret(database, organization) -> str:
    with database.write() as session:
        return add_repository(session, KEY, organization, "Acme/Billing", github_token=None, actor="t").webhook_secret


def body(action="published", release_id=7, draft=False, repo="acme/billing") -> bytes:
    return json.dumps({
        "action": action,
        "release": {"id": release_id, "tag_name": "v1.0.0", "draft": draft},
        "repository": {"full_name": repo},
    }).encode()


def sign(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def receive(database, secret, data, *, delivery="d-1", event="release", signature=None):
    return receive_webhook(database, KEY, event=event, delivery_id=delivery,
                           signature=signature if signature is not None else sign(secret, data), body=data)


def rows(database):
    with database.read() as session:
        return tuple(len(session.query(m).all()) for m in (WebhookDelivery, SyncRun, OutboxMessage))


def test_signature_check_is_exact() -> None:
    data = b'{"x": 1}'
    assert signature_matches("s", data, sign("s", data))
    assert not signature_matches("s", data, sign("t", data))
    assert not signature_matches("s", data + b" ", sign("s", data))
    assert not signature_matches("s", data, "sha1=" + sign("s", data)[7:])


def test_release_is_recorded_with_run_and_outbox_in_one_go(database, secret) -> None:
    result = receive(database, secret, body())
    assert result.status == 202
    assert rows(database) == (1, 1, 1)
    with database.read() as session:
        (message,) = session.query(OutboxMessage).all()
        (run,) = session.query(SyncRun).all()
    assert message.task == "envelope.ingest_run" and message.kwargs == {"run_id": run.id}
    assert (run.release_id, run.release_tag, run.trigger, run.status) == (7, "v1.0.0", "webhook", "queued")


def test_redelivery_changes_nothing(database, secret) -> None:
    receive(database, secret, body())
    again = receive(database, secret, body())
    assert again.status == 200 and "Already received" in again.message
    assert rows(database) == (1, 1, 1)


def test_published_and_released_for_one_release_share_a_run(database, secret) -> None:
    receive(database, secret, body("published"), delivery="a")
    second = receive(database, secret, body("released"), delivery="b")
    assert second.status == 202
    assert rows(database) == (2, 1, 1)


@pytest.mark.parametrize("action, draft", [("created", False), ("deleted", False), ("published", True)])
def test_irrelevant_release_actions_run_nothing(database, secret, action, draft) -> None:
    result = receive(database, secret, body(action, draft=draft))
    assert result.status == 202 and "Ignored" in result.message
    assert rows(database) == (1, 0, 0)


def test_ping_and_other_events_record_nothing(database, secret) -> None:
    assert receive(database, secret, body(), event="ping").message == "pong"
    assert receive(database, secret, body(), event="push").status == 202
    assert rows(database) == (0, 0, 0)


def test_bad_signature_and_unknown_repository_look_the_same(database, secret) -> None:
    with pytest.raises(Forbidden) as bad:
        receive(database, secret, body(), signature=sign("wrong", body()))
    unknown_body = body(repo="acme/other")
    with pytest.raises(Forbidden) as unknown:
        receive(database, secret, unknown_body, signature=sign(secret, unknown_body))
    assert str(bad.value) == str(unknown.value)
    with pytest.raises(Unauthorized):
        receive(database, secret, body(), signature="")
    with pytest.raises(InvalidInput):
        receive(database, secret, b"not json", signature=sign(secret, b"not json"))
    assert rows(database) == (0, 0, 0)


def test_repository_names_match_case_insensitively(database, secret) -> None:
    data = body(repo="ACME/Billing")
    assert receive(database, secret, data).status == 202


def test_refusals_log_request_values_escaped(database, secret, caplog) -> None:
    forged = "d-1\nINFO envelope: everything is fine"
    data = body(repo="acme/billing\rX")
    with caplog.at_level("WARNING", logger="envelope.github.webhooks"), pytest.raises(Forbidden):
        receive(database, secret, data, delivery=forged, signature=sign("wrong", data))
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message
    assert repr(forged) in message and repr("acme/billing\rx") in message
