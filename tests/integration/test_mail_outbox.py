"""Mail through the outbox on a real `envelope serve`: the worker writes the
.eml (the web process only records the message), the link in it stays on one
line and works, the console shows one copyable line, and a server that dies
between the request and the sending loses nothing."""
from __future__ import annotations

import os
import re
import signal
import time
from email import message_from_bytes, policy
from pathlib import Path

import requests

from tests.mailbox import wait_for_mail
from tests.services import descendants

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
RESET_LINK = re.compile(rb"^\s*(http://\S+/reset-password/\S+)$", re.MULTILINE)


def _request_reset(server, email: str = "alice@example.com") -> None:
    browser = requests.Session()
    csrf = CSRF_INPUT.search(browser.get(server.url("/reset-password"), timeout=30).text).group(1)
    sent = browser.post(server.url("/reset-password"), data={"csrf_token": csrf, "email": email}, timeout=30)
    assert sent.status_code == 200


def _worker_processes(server) -> list[int]:
    """The Celery worker's processes (its main process runs the outbox relay)."""
    found = []
    for pid in descendants(server.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"celery" in b" ".join(cmdline) and b"worker" in cmdline:
            found.append(pid)
    return [*found, *(child for pid in found for child in descendants(pid))]


def _add_alice(server) -> None:
    server.cli("user", "create", "alice", "--email", "alice@example.com", "--password-stdin",
               input="correct horse battery\n")


def test_reset_mail_is_written_by_the_worker_with_a_working_one_line_link(envelope_server):
    server = envelope_server("sqlite-file")
    _add_alice(server)
    _request_reset(server)

    (eml,) = wait_for_mail(server)
    raw = eml.read_bytes()
    (link,) = RESET_LINK.findall(raw)  # whole, on a line of its own: a person can copy it
    assert message_from_bytes(raw, policy=policy.default)["To"] == "alice@example.com"
    page = requests.get(link.decode(), timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text
    # One line on the serve console, from the worker's process.
    (line,) = [line for line in server.log_text().splitlines() if "Mail to alice@example.com" in line]
    assert line.endswith(f'Mail to alice@example.com: "Reset your Envelope password" \u2014 {link.decode()}')
    assert "ForkPoolWorker" in line or "MainProcess" in line  # Celery's log format, not gunicorn's


def test_mail_survives_a_server_that_dies_before_sending(envelope_server):
    server = envelope_server("sqlite-file")
    _add_alice(server)
    frozen = _worker_processes(server)
    assert frozen, "no Celery worker found under serve"
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)  # nothing is relayed or sent from here on
    _request_reset(server)
    time.sleep(1)
    assert not list((server.data_dir / "mail").glob("*.eml"))  # the web process sends nothing itself
    server.kill()  # web, worker and beat die at once: only the database remembers the message

    server.start()
    (eml,) = wait_for_mail(server)
    assert RESET_LINK.search(eml.read_bytes())
