"""What the access log may show of a request target (envelope/log_redaction.py),
and how ENVELOPE_ACCESS_LOG reaches gunicorn's command line."""
from __future__ import annotations

import pytest

from cli.processes import command
from envelope.config import Settings
from envelope.log_redaction import redact_target

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


@pytest.mark.parametrize("value, options", [
    (None, ["--access-logfile", "-"]),
    ("-", ["--access-logfile", "-"]),
    ("/var/log/envelope/access.log", ["--access-logfile", "/var/log/envelope/access.log"]),
    ("off", []),
    ("OFF", []),
])
def test_access_log_setting_reaches_gunicorn(tmp_path, value: str | None, options: list[str]) -> None:
    env = {"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SECRET_KEY": "x" * 32}
    if value is not None:
        env["ENVELOPE_ACCESS_LOG"] = value
    argv = command("web", Settings.from_env(env))
    if options:
        at = argv.index("--access-logfile")
        assert argv[at:at + 2] == options
        assert argv[argv.index("--logger-class") + 1] == "web.access_log.AccessLogger"
    else:
        assert "--access-logfile" not in argv and "--logger-class" not in argv
