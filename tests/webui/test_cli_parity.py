"""One operation, every face: the `envelope` console script (a real
subprocess on the same data dir) and the pages and API (Flask's test client)
create tokens, yank and change the upstream proxy through the same domain
function, so they refuse the same bad input with the same sentence and write
the same audit event; only the actor differs (the operator at the CLI, the
signed-in member on the web)."""
from __future__ import annotations

import html
import subprocess

from sqlalchemy import select

from envelope.models import AuditEvent
from tests.services import envelope_executable, scrubbed_environ


def envelope(world, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    settings = world.app.extensions["envelope"].settings
    env = {**scrubbed_environ(), "ENVELOPE_DATA_DIR": str(settings.data_dir),
           "ENVELOPE_SECRET_KEY": settings.secret_key, "ENVELOPE_AUTH_CACHE_SECONDS": "0"}
    result = subprocess.run([str(envelope_executable()), *args], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


def cli_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1 and result.stderr.startswith("Error: "), result.stderr
    return result.stderr.removeprefix("Error: ").strip()


def events(world, action_prefix: str, after: int = 0) -> list[AuditEvent]:
    with world.db.read() as session:
        return list(session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith(action_prefix), AuditEvent.id > after)
            .order_by(AuditEvent.id)
        ))


def last_event_id(world) -> int:
    with world.db.read() as session:
        return max(session.scalars(select(AuditEvent.id)).all() or [0])


def shape(event: AuditEvent, *, drop: tuple[str, ...] = ()) -> tuple:
    """What both faces must agree on: action, subject and detail (minus values that hold the time)."""
    return (event.action, event.subject, {k: v for k, v in (event.detail or {}).items() if k not in drop},
            sorted(event.detail or {}))


# --------------------------------------------------------------------------- tokens


def test_token_refusals_read_the_same_from_the_cli_the_page_and_the_api(world):
    owner = world.browser("olivia")
    cases = [  # (CLI options, API fields or None, form fields)
        (["--project", "billing>=x"], {"projects": ["billing>=x"]}, {"projects": "billing>=x"}),
        (["--expires", "2001-01-01"], {"expires": "2001-01-01"}, {"expires_on": "2001-01-01"}),
        (["--expires", "soon"], {"expires": "soon"}, {"expires": "soon"}),
        (["--project", "billing", "--project", "Billing>=1"], {"projects": ["billing", "Billing>=1"]},
         {"projects": "billing\nBilling>=1"}),
    ]
    for args, api_fields, form_fields in cases:
        message = cli_error(envelope(world, "token", "create", "--org", "acme", "--name", "ci", *args, ok=False))
        assert message  # one sentence a person can act on
        api = owner.api("POST", "/api/v1/orgs/acme/tokens", {"name": "ci", **api_fields})
        assert api.status_code == 400 and api.get_json()["error"] == message
        page = owner.post("/acme/tokens", {"name": "ci", "scope": "read", "expires": "30d", **form_fields})
        assert page.status_code == 400 and message in html.unescape(page.get_data(as_text=True))
    assert events(world, "token.") == []


def test_a_reader_never_gets_an_upload_token_from_any_face(world):
    refused = cli_error(envelope(world, "token", "create", "--org", "acme", "--user", "rita", "--scope", "upload",
                                 ok=False))
    assert refused.startswith("rita's role in acme is reader: the token could never upload.")
    page = world.browser("rita").post("/acme/tokens", {"name": "ci", "scope": "upload", "expires": "30d"})
    assert page.status_code == 403 and "the token could never upload" in page.get_data(as_text=True)
    assert events(world, "token.") == []


def test_token_create_writes_the_same_audit_event_from_the_cli_and_the_api(world):
    envelope(world, "token", "create", "--org", "acme", "--user", "olivia", "--name", "ci", "--scope", "upload",
             "--project", " billing>=1,<2 ", "--expires", "30d")
    created = world.browser("olivia").api("POST", "/api/v1/orgs/acme/tokens", {
        "name": "ci", "scope": "upload", "projects": [" billing>=1,<2 "], "expires": "30d"})
    assert created.status_code == 201
    cli_event, api_event = events(world, "token.create")
    assert cli_event.actor.startswith("cli ") and api_event.actor == "user olivia"
    assert cli_event.detail == {**api_event.detail, "expires": cli_event.detail["expires"]}
    assert cli_event.detail["projects"] == ["billing<2,>=1"] and cli_event.detail["user"] == "olivia"
    assert [e.subject.split(" ", 2)[2] for e in (cli_event, api_event)] == ["'ci'", "'ci'"]


# --------------------------------------------------------------------------- yank


def test_yank_refusals_and_audit_events_are_the_same_from_the_cli_and_the_api(world):
    world.wheel("billing", "1.0")
    world.wheel("billing", "2.0")
    maintainer = world.browser("max")
    missing = cli_error(envelope(world, "yank", "--org", "acme", "billing==9.9", ok=False))
    api = maintainer.api("POST", "/api/v1/orgs/acme/projects/billing/releases/9.9/yank", {})
    assert api.status_code == 404 and api.get_json()["error"] == missing
    too_long = "x" * 501
    refused = cli_error(envelope(world, "yank", "--org", "acme", "billing==1.0", "--reason", too_long, ok=False))
    api = maintainer.api("POST", "/api/v1/orgs/acme/projects/billing/releases/1.0/yank", {"reason": too_long})
    assert api.status_code == 400 and api.get_json()["error"] == refused
    assert [e for e in events(world, "file.") if "yank" in e.action] == []  # refusals change nothing

    envelope(world, "yank", "--org", "acme", "billing==1.0", "--reason", "  Broken build ")
    assert maintainer.api("POST", "/api/v1/orgs/acme/projects/billing/releases/2.0/yank",
                          {"reason": "  Broken build "}).status_code == 200
    envelope(world, "unyank", "--org", "acme", "billing==1.0")
    assert maintainer.api("POST", "/api/v1/orgs/acme/projects/billing/releases/2.0/unyank", {}).status_code == 200
    cli_yank, api_yank, cli_unyank, api_unyank = [e for e in events(world, "file.") if "yank" in e.action]
    assert (cli_yank.actor.startswith("cli "), api_yank.actor) == (True, "user max")
    for cli_event, api_event in ((cli_yank, api_yank), (cli_unyank, api_unyank)):
        assert cli_event.action == api_event.action
        assert cli_event.subject.replace("1.0", "2.0") == api_event.subject
        assert sorted(cli_event.detail) == sorted(api_event.detail)
        assert cli_event.detail.get("reason") == api_event.detail.get("reason")
    assert cli_yank.detail["reason"] == "Broken build"  # stripped by the one function, whichever face


# --------------------------------------------------------------------------- upstream proxy


def test_proxy_refusals_and_audit_events_are_the_same_from_the_cli_and_the_page(world):
    refused_url = "http://127.0.0.1:6379/"
    message = cli_error(envelope(world, "org", "proxy", "acme", "--upstream", refused_url, ok=False))
    assert "private or reserved network address" in message
    owner = world.browser("olivia")
    page = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": refused_url, "reserved": ""})
    assert page.status_code == 400 and message in html.unescape(page.get_data(as_text=True))
    bad_pattern = cli_error(envelope(world, "org", "proxy", "acme", "--reserve", "not a pattern!", ok=False))
    page = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "not a pattern!"})
    assert page.status_code == 400 and bad_pattern in html.unescape(page.get_data(as_text=True))
    assert events(world, "proxy.") == []

    envelope(world, "org", "proxy", "acme", "--upstream", "https://mirror:s3cret@mirror.example.com/simple",
             "--reserve", "Acme_*")
    envelope(world, "org", "proxy", "acme", "--disable")
    cli_events = events(world, "proxy.")
    envelope(world, "org", "proxy", "acme", "--unreserve", "acme-*")  # start the page from where the CLI began
    mark = last_event_id(world)
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "https://mirror:s3cret@mirror.example.com/simple",
                               "reserved": ""})
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "https://mirror.example.com/simple/",
                               "reserved": "Acme_*"})  # as shown: keeps the credentials
    owner.post("/acme/proxy", {"upstream_url": "", "reserved": "acme-*"})
    web_events = events(world, "proxy.", after=mark)
    assert sorted(shape(e) for e in cli_events) == sorted(shape(e) for e in web_events)
    assert {e.actor for e in web_events} == {"user olivia"}
    assert all(e.actor.startswith("cli ") for e in cli_events)
    assert "s3cret" not in str([(e.subject, e.detail) for e in cli_events + web_events])


def test_minimum_age_refusals_and_audit_events_are_the_same_from_the_cli_and_the_page(world):
    message = cli_error(envelope(world, "org", "proxy", "acme", "--min-age", "3 days", ok=False))
    assert "Invalid minimum age" in message
    owner = world.browser("olivia")
    page = owner.post("/acme/proxy", {"upstream_url": "", "reserved": "", "min_age": "3 days"})
    assert page.status_code == 400 and message in html.unescape(page.get_data(as_text=True))
    assert events(world, "proxy.") == []

    out = envelope(world, "org", "proxy", "acme", "--min-age", "72h")
    assert "Minimum age of upstream files: 3d (0 versions held back so far)." in out.stdout
    envelope(world, "org", "proxy", "acme", "--min-age", "0")
    cli_events = events(world, "proxy.")
    mark = last_event_id(world)
    owner.post("/acme/proxy", {"upstream_url": "", "reserved": "", "min_age": "3d"})
    owner.post("/acme/proxy", {"upstream_url": "", "reserved": "", "min_age": "0"})
    web_events = events(world, "proxy.", after=mark)
    assert [(e.action, e.subject) for e in cli_events] == [(e.action, e.subject) for e in web_events] == [
        ("proxy.min_age", "3d"), ("proxy.min_age", "0")]


def test_cache_budget_refusals_and_audit_events_are_the_same_from_the_cli_and_the_page(world):
    message = cli_error(envelope(world, "org", "proxy", "acme", "--cache-max-age", "30m", ok=False))
    assert "between 1h and 10 years" in message
    owner = world.browser("olivia")
    page = owner.post("/acme/proxy", {"upstream_url": "", "reserved": "", "cache_max_size": "", "cache_max_age": "30m"})
    assert page.status_code == 400 and message in html.unescape(page.get_data(as_text=True))
    assert events(world, "proxy.") == []

    out = envelope(world, "org", "proxy", "acme", "--cache-max-size", "5GB")
    assert "Cache budget: at most 5 GB; cached now: 0 bytes in 0 files." in out.stdout
    out = envelope(world, "org", "proxy", "acme", "--cache-max-age", "90d")  # the size stays
    assert "Cache budget: at most 5 GB, each used within 90d;" in out.stdout
    envelope(world, "org", "proxy", "acme", "--cache-max-size", "none", "--cache-max-age", "none")
    cli_events = events(world, "proxy.")
    mark = last_event_id(world)
    for size, age in (("5GB", ""), ("5GB", "90d"), ("", "")):
        owner.post("/acme/proxy", {"upstream_url": "", "reserved": "", "cache_max_size": size, "cache_max_age": age})
    web_events = events(world, "proxy.", after=mark)
    assert [(e.action, e.subject) for e in cli_events] == [(e.action, e.subject) for e in web_events] == [
        ("proxy.cache_budget", "at most 5 GB"), ("proxy.cache_budget", "at most 5 GB, each used within 90d"),
        ("proxy.cache_budget", "none, kept forever")]
