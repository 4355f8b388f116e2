"""Outgoing email: queued in the database, sent by the worker.

`queue_mail` records a message (and an outbox row for the worker's send
task) in the transaction of the request that decides to send it, so a web
process that restarts loses no mail and no request waits on a mail server.
`deliver` (the worker's task) sends it once: SMTP when ENVELOPE_SMTP_HOST is
set, otherwise an .eml file under ENVELOPE_DATA_DIR/mail/.

A laptop install has no mail server, so file mode also logs one line per
message with its link, for the `serve` console. With SMTP configured the
links never reach a log: they are live sign-in and reset links.
"""
from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from envelope import outbox
from envelope.config import Settings
from envelope.db import Database
from envelope.models import MailMessage, TaskName
from envelope.models.base import utcnow
from envelope.sealing import seal, unseal

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30  # seconds
IMPLICIT_TLS_PORT = 465
SEND_TASK = TaskName.send_mail
LINK = re.compile(r"https?://\S+")


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver now; raises OSError/smtplib.SMTPException when delivery fails."""


def compose(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="envelope.invalid")
    # 7bit (8bit when not ASCII), never quoted-printable: a long link stays
    # on one line in the .eml file, where a person can copy it.
    message.set_content(body, cte="7bit" if body.isascii() else "8bit")
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
        # One line a person can copy from the `serve` console: this is the
        # laptop mode, where the console is the mailbox.
        links = " ".join(LINK.findall(message.get_content())) or str(path)
        log.info("Mail to %s: \"%s\" \u2014 %s", message["To"], message["Subject"], links)


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


def queue_mail(session: Session, settings: Settings, *, to: str, subject: str, body: str) -> MailMessage:
    """Record a message for the worker to send once this transaction commits.
    The request never waits on (or reveals, by its timing) a mail server."""
    mail = MailMessage(recipient=to, subject=subject, body_sealed=seal(settings.secret_key, body))
    session.add(mail)
    session.flush()  # its id, for the task
    outbox.enqueue(session, SEND_TASK, mail_id=mail.id)
    return mail


def deliver(db: Database, settings: Settings, mail_id: int, mailer: Mailer | None = None) -> bool:
    """Send one queued message unless it was sent already; True when sent now.

    The row is locked while sending (PostgreSQL) and marked sent in the same
    transaction, so a retried or redelivered task sends nothing twice. A
    failure is recorded on the row and raised, for the task to retry."""
    mailer = mailer or mailer_from_settings(settings)
    with db.write() as session:
        mail = session.scalar(select(MailMessage).where(MailMessage.id == mail_id).with_for_update())
        if mail is None or mail.sent is not None:
            return False
        message = compose(sender=settings.mail_from, to=mail.recipient, subject=mail.subject,
                          body=unseal(settings.secret_key, mail.body_sealed))
        try:
            mailer.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            failure = exc
        else:
            mail.sent = utcnow()
            mail.attempts += 1
            mail.last_error = None
            return True
    # Recorded after the lock is released, in its own transaction.
    with db.write() as session:
        mail = session.get(MailMessage, mail_id)
        mail.attempts += 1
        mail.last_error = f"{type(failure).__name__}: {failure}"[:1000]
        log.warning("Could not send email #%d to %s (attempt %d): %s", mail.id, mail.recipient,
                    mail.attempts, mail.last_error)
    raise failure


def deliver_pending(db: Database, settings: Settings) -> int:
    """Send every unsent message now, in this process (what the worker's task
    does, one message at a time); returns how many were sent."""
    with db.read() as session:
        ids = session.scalars(select(MailMessage.id).where(MailMessage.sent.is_(None)).order_by(MailMessage.id)).all()
    return sum(deliver(db, settings, mail_id) for mail_id in ids)
