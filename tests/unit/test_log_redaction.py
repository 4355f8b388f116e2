"""What the access log may show of a request target (envelope/log_redaction.py),
and the access log that applies it (web/access_log.py, WSGI middleware)."""
from __future__ import annotations

import io
import re
import types

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from envelope.config import Settings
from envelope.log_redaction import redact_target
from web import access_log

TOKEN = "envl_0123456789abcdefghijABCDEFGHIJ01abcd"


@pytest.mark.parametrize("target, shown", [
    ("/acme/simple/", "/acme/simple/"),
    ("/acme/files/ab/x-1.0-py3-none-any.whl", "/acme/files/ab/x-1.0-py3-none-any.whl"),
    (f"/acme/simple/?token={TOKEN}&page=2", "/acme/simple/?token=***&page=2"),
    ("/x?Access%5FToken=abc&MyPassword=p&X-Amz-Signature=s&q=a+b", "/x?Access%5FToken=***&MyPassword=***"
                                                                     "&X-Amz-Signature=***&q=a+b"),
    (f"/acme/{TOKEN}/simple/", "/acme/envl_***/simple/"),
    (f"/search?q={TOKEN}", "/search?q=envl_***"),
    ("/reset-password/s3cretlink", "/reset-password/***"),
    ("/invitations/s3cretlink?next=/acme/", "/invitations/***?next=/acme/"),
    (f"http://__token__:{TOKEN}@host:8080/acme/simple/", "http://host:8080/acme/simple/"),
    ("http://user:hunter2@host/", "http://host/"),
])
def test_secrets_are_masked_and_the_rest_kept_as_sent(target: str, shown: str) -> None:
    assert redact_target(target) == shown


def _served(environ_overrides: dict, target: str | None = "-"):
    """A two-chunk app behind web.access_log, as web/wsgi.py installs it; (status, body, log text)."""
    stream = io.StringIO()

    def app(environ, start_response):
        start_response("404 NOT FOUND", [("Content-Type", "text/plain")])
        return [b"not ", b"here"]

    holder = types.SimpleNamespace(wsgi_app=app)
    access_log.install(holder, target)
    if isinstance(holder.wsgi_app, access_log.AccessLog):
        holder.wsgi_app.stream = stream
    environ = EnvironBuilder(path="/acme/simple/", headers={"User-Agent": "pip/24.0"}).get_environ()
    for raw in ("RAW_URI", "REQUEST_URI"):  # what gunicorn sets and other servers may not
        environ.pop(raw, None)
    environ.update(environ_overrides)
    body, status, _headers = run_wsgi_app(holder.wsgi_app, environ, buffered=True)
    return status, b"".join(body), stream.getvalue()


def test_the_access_log_writes_one_redacted_line_per_request_whatever_the_server() -> None:
    status, body, log = _served({
        "RAW_URI": f"http://__token__:{TOKEN}@host/acme/simple/?token={TOKEN}&page=2",
        "HTTP_AUTHORIZATION": "Basic " + TOKEN, "HTTP_COOKIE": "session=" + TOKEN, "REMOTE_ADDR": "203.0.113.9",
    })
    assert status == "404 NOT FOUND" and body == b"not here"
    assert re.fullmatch(r'\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] 203\.0\.113\.9 '
                        r'"GET http://host/acme/simple/\?token=\*\*\*&page=2 HTTP/1\.1" 404 8 \d+ms "pip/24\.0"\n', log), log
    assert TOKEN not in log and TOKEN[len("envl_"):] not in log


def test_without_a_raw_target_the_path_and_query_are_logged_redacted() -> None:
    _status, _body, log = _served({"QUERY_STRING": f"password=hunter2&q={TOKEN}",
                                   "HTTP_USER_AGENT": f"curl with {TOKEN}"})
    assert '"GET /acme/simple/?password=***&q=envl_*** HTTP/1.1" 404 8 ' in log
    assert log.endswith('"curl with envl_***"\n') and "hunter2" not in log


@pytest.mark.parametrize("value, target", [(None, "-"), ("-", "-"), ("/var/log/envelope/access.log",
                                           "/var/log/envelope/access.log"), ("off", None), ("OFF", None)])
def test_access_log_setting(tmp_path, value: str | None, target: str | None) -> None:
    env = {"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SECRET_KEY": "x" * 32}
    if value is not None:
        env["ENVELOPE_ACCESS_LOG"] = value
    assert Settings.from_env(env).access_log == target
    if target is None:
        assert _served({}, None)[2] == ""  # nothing installed, nothing written
