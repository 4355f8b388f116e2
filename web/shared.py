"""What the HTML pages and the JSON API share, so that neither imports the other."""
from __future__ import annotations

from flask import request

from envelope.errors import InvalidInput
from envelope.mail import queue_mail
from web.runtime import runtime

HISTORY_LENGTH = 20  # sync runs shown per repository


def public_base_url() -> str:
    """ENVELOPE_BASE_URL (or the address `serve` binds): never the request's
    Host header, which anyone can set to their own server."""
    return runtime().settings.base_url


def webhook_url() -> str:
    return f"{public_base_url()}/hooks/github"


def refuse_nul_bytes() -> None:
    """PostgreSQL cannot store NUL in text: refuse it up front with a 400,
    on either backend, rather than fail deep inside a query."""
    values = [request.path, *request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        raise InvalidInput("The request contains a NUL character.")


def send_invitation(session, to: str, subject: str, body: str) -> None:
    """Queue an invitation email in the invitation's own transaction (the
    worker sends it: SMTP, or an .eml file in ENVELOPE_DATA_DIR/mail/)."""
    queue_mail(session, runtime().settings, to=to, subject=subject, body=body)
