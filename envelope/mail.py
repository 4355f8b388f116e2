"""Outgoing email: SMTP when ENVELOPE_SMTP_HOST is set, otherwise .eml files.

A laptop install has no mail server, so without an SMTP host every message
is written to ENVELOPE_DATA_DIR/mail/ and only the file's path is logged:
the messages carry sign-in links, which must never reach a log.
"""
from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from envelope.config import Settings
from envelope.models.base import utcnow

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30  # seconds
IMPLICIT_TLS_PORT = 465


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver now; raises OSError/smtplib.SMTPException when delivery fails."""

    def send_soon(self, message: EmailMessage) -> None:
        """Deliver without making the caller wait on the network; failures are logged."""


def compose(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="envelope.invalid")
    message.set_content(body)
    return message


class FileMailer:
    """Writes each message to `directory` as `<UTC time>-<random>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        # Owner-only whatever the process umask: the messages carry live
        # sign-in, reset and invitation links.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(message))
        log.info("No SMTP host configured: wrote email for %s to %s", message["To"], path)

    # A local file write is quick and lets whoever reads the directory (tests
    # included) find the message as soon as the request returns.
    send_soon = send


class SmtpMailer:
    """Port 465 uses implicit TLS; otherwise STARTTLS when asked, then login when a username is set."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.port == IMPLICIT_TLS_PORT:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        if self.starttls:
            smtp.starttls(context=context)
        return smtp

    def send(self, message: EmailMessage) -> None:
        with self._connect() as smtp:
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    def send_soon(self, message: EmailMessage) -> None:
        # A request must not wait on (or reveal, by its timing) a mail
        # server round trip; a lost message is recovered by asking again.
        threading.Thread(target=self._send_logged, args=(message,), daemon=True).start()

    def _send_logged(self, message: EmailMessage) -> None:
        try:
            self.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("Could not send email to %s via %s:%s: %s", message["To"], self.host, self.port, exc)


def mailer_from_settings(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    return FileMailer(settings.data_dir / "mail")
