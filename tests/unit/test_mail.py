from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from sqlalchemy import select

from envelope.config import Settings
from envelope.mail import FileMailer, SmtpMailer, compose, deliver, mailer_from_settings, queue_mail
from envelope.models import MailMessage, OutboxMessage

# Longer than a mail line (78): quoted-printable would break it across lines.
LINK = "https://envelope.example/reset-password/" + "SECRET" * 15


def _message():
    return compose(sender="Envelope <noreply@example.com>", to="alice@example.com", subject="Hello",
                   body=f"Your link:\n{LINK}\n")


def test_file_mailer_writes_eml_with_the_link_on_one_line_and_logs_one_line(tmp_path, caplog):
    caplog.set_level("INFO", logger="envelope.mail")
    FileMailer(tmp_path / "mail").send(_message())
    (path,) = (tmp_path / "mail").glob("*.eml")
    raw = path.read_bytes()
    assert LINK.encode() + b"\n" in raw  # copyable from the file itself
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["To"] == "alice@example.com" and LINK in parsed.get_content()
    # The laptop mode: the `serve` console is the mailbox.
    assert f'Mail to alice@example.com: "Hello" \u2014 {LINK}' in caplog.messages


def _settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SECRET_KEY": "k" * 40, **env})


def _queue(database, settings) -> int:
    with database.write() as session:
        return queue_mail(session, settings, to="alice@example.com", subject="Hello", body=f"Your link:\n{LINK}\n").id


def test_queued_mail_is_sealed_and_has_its_outbox_row(database, tmp_path):
    settings = _settings(tmp_path)
    mail_id = _queue(database, settings)
    with database.read() as session:
        mail = session.get(MailMessage, mail_id)
        assert mail.sent is None and "SECRET" not in mail.body_sealed
        (row,) = session.scalars(select(OutboxMessage)).all()
        assert (row.task, row.kwargs) == ("envelope.send_mail", {"mail_id": mail_id})


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


def test_smtp_failure_is_recorded_and_raised_then_sent_once(database, tmp_path, smtp_server, caplog):
    """The worker's task retries what raises; once sent, a retry or a
    redelivered task sends nothing again. With SMTP no link reaches a log."""
    caplog.set_level("INFO", logger="envelope.mail")
    controller, inbox = smtp_server
    settings = _settings(tmp_path, ENVELOPE_SMTP_HOST=controller.hostname, ENVELOPE_SMTP_PORT=str(controller.port))
    mail_id = _queue(database, settings)
    with pytest.raises(OSError):
        deliver(database, settings, mail_id, mailer=SmtpMailer("127.0.0.1", _free_port()))
    with database.read() as session:
        mail = session.get(MailMessage, mail_id)
        assert mail.sent is None and mail.attempts == 1 and "ConnectionRefusedError" in mail.last_error
    assert deliver(database, settings, mail_id) is True
    assert deliver(database, settings, mail_id) is False  # the task ran again: nothing sent twice
    (received,) = inbox.messages
    assert received["To"] == "alice@example.com" and LINK in received.get_payload()
    assert "SECRET" not in caplog.text and "Could not send email #" in caplog.text


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
