from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from envelope.config import Settings
from envelope.mail import FileMailer, SmtpMailer, compose, mailer_from_settings


def _message():
    return compose(sender="Envelope <noreply@example.com>", to="alice@example.com", subject="Hello",
                   body="Your link: https://envelope.example/reset-password/SECRET\n")


def test_file_mailer_writes_eml_and_logs_only_the_path(tmp_path, caplog):
    caplog.set_level("INFO", logger="envelope.mail")
    FileMailer(tmp_path / "mail").send_soon(_message())
    (path,) = (tmp_path / "mail").glob("*.eml")
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["To"] == "alice@example.com" and "SECRET" in parsed.get_content()
    assert str(path) in caplog.text and "SECRET" not in caplog.text


class _Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def handle_message(self, message) -> None:
        self.messages.append(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def test_smtp_mailer_delivers(smtp_server):
    controller, inbox = smtp_server
    SmtpMailer(controller.hostname, controller.port).send(_message())
    (received,) = inbox.messages
    assert received["Subject"] == "Hello" and received["To"] == "alice@example.com"


def test_smtp_failures_in_the_background_are_logged_not_raised(caplog):
    mailer = SmtpMailer("127.0.0.1", _free_port())
    mailer._send_logged(_message())  # what send_soon's thread runs
    assert "Could not send email to alice@example.com" in caplog.text


@pytest.mark.parametrize(
    ("env", "kind"),
    [({}, FileMailer), ({"ENVELOPE_SMTP_HOST": "smtp.example.com", "ENVELOPE_SMTP_PORT": "587",
                         "ENVELOPE_SMTP_STARTTLS": "true", "ENVELOPE_SMTP_USERNAME": "u"}, SmtpMailer)],
)
def test_mailer_from_settings(tmp_path, env, kind):
    settings = Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), **env})
    mailer = mailer_from_settings(settings)
    assert isinstance(mailer, kind)
    if kind is SmtpMailer:
        assert (mailer.host, mailer.port, mailer.starttls, mailer.username) == ("smtp.example.com", 587, True, "u")
    else:
        assert mailer.directory == tmp_path.resolve() / "mail"


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, True), ({"ENVELOPE_SIGNUP": "open"}, True), ({"ENVELOPE_SIGNUP": "Closed"}, False)],
)
def test_signup_default(tmp_path, env, expected):
    assert Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), **env}).signup_open is expected


@pytest.mark.parametrize("env", [{"ENVELOPE_SIGNUP": "maybe"}, {"ENVELOPE_SMTP_STARTTLS": "sometimes"}])
def test_bad_settings_are_refused_with_their_name(tmp_path, env):
    (name,) = env
    with pytest.raises(ValueError, match=name):
        Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), **env})


def test_smtp_password_is_not_in_the_settings_repr(tmp_path):
    settings = Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SMTP_PASSWORD": "hunter2"})
    assert settings.smtp_password == "hunter2" and "hunter2" not in repr(settings)
