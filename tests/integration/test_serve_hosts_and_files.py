"""`envelope serve` without ENVELOPE_BASE_URL: links in mail point at the
address it serves, never at the Host a request names; and what it keeps on
disk (secret key, database, mail) is readable by its owner only, an older
install's open data dir included."""
from __future__ import annotations

import re
import stat
from email import message_from_bytes, policy
from pathlib import Path

import requests

from tests.mailbox import wait_for_mail

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
FORGED = {"Host": "attacker.example"}


def others_may_access(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 != 0


def test_reset_link_uses_the_served_address_and_data_files_are_private(envelope_server):
    server = envelope_server("sqlite-file", start=False)
    # What an older version left: a data dir, key and database anyone could read.
    server.data_dir.chmod(0o755)
    for name in ("secret_key", "envelope.db"):
        (server.data_dir / name).write_text("k" * 64 if name == "secret_key" else "")
        (server.data_dir / name).chmod(0o644)
    server.start()
    server.cli("user", "create", "alice", "--email", "alice@example.com", "--password-stdin",
               input="correct horse battery\n")

    browser = requests.Session()
    form = browser.get(server.url("/reset-password"), headers=FORGED, timeout=30)
    csrf = CSRF_INPUT.search(form.text).group(1)
    sent = browser.post(server.url("/reset-password"), data={"csrf_token": csrf, "email": "alice@example.com"},
                        headers=FORGED, timeout=30)
    assert sent.status_code == 200

    (eml,) = wait_for_mail(server)  # written by the worker
    body = message_from_bytes(eml.read_bytes(), policy=policy.default).get_content()
    assert "attacker.example" not in body
    assert f"{server.base_url}/reset-password/" in body

    data_files = [server.data_dir / name for name in ("secret_key", "envelope.db", "broker.db")]
    for path in [server.data_dir, server.data_dir / "mail", eml, *data_files]:
        assert not others_may_access(path), f"{path} is {oct(path.stat().st_mode)}"
