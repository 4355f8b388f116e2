"""Mail for unit-level web tests: the worker's own send code (envelope.mail.
deliver) run in the test process, then the .eml files it wrote."""
from __future__ import annotations

import time
from pathlib import Path

from envelope.config import Settings
from envelope.db import Database
from envelope.mail import deliver_pending


def delivered_mail(settings: Settings) -> list[Path]:
    """Send what the requests queued (as the worker would), then list the
    messages under ENVELOPE_DATA_DIR/mail/, oldest first."""
    db = Database(settings.database_url)
    try:
        deliver_pending(db, settings)
    finally:
        db.dispose()
    directory = settings.data_dir / "mail"
    return sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if directory.exists() else []


def wait_for_mail(server, timeout: float = 60) -> list[Path]:
    """The .eml files a running `envelope serve`'s worker has written, once there are any."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted((server.data_dir / "mail").glob("*.eml"))
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no mail written within {timeout}s; server log:\n{server.log_text()[-3000:]}")
