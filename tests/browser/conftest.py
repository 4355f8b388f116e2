"""Browser tests: Debian's Chromium driven by Playwright against the real
server, with a local SMTP sink standing in for the mail server."""
from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, sync_playwright

from tests.services import REPO_ROOT, EnvelopeServer, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
LINK = re.compile(r"https?://\S+")


class MailSink:
    """aiosmtpd on a loopback port, keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def wait_for(self, to: str, subject: str, timeout: float = 20) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if to.lower() in str(message["To"]).lower() and subject.lower() in str(message["Subject"]).lower():
                        self.messages.remove(message)
                        return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {to} about {subject!r} within {timeout}s; have {[m['Subject'] for m in self.messages]}")

    @staticmethod
    def link(message: EmailMessage) -> str:
        body = message.get_body(preferencelist=("plain",)).get_content()
        match = LINK.search(body)
        assert match, body
        return match.group(0).rstrip(".,)>")


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    sink.controller.start()
    try:
        yield sink
    finally:
        sink.controller.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def ui_server(mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvelopeServer]:
    port = free_port()
    server = EnvelopeServer(
        tmp_path_factory.mktemp("ui-server"),
        port=port,
        extra_env={
            "ENVELOPE_BASE_URL": f"http://127.0.0.1:{port}",
            "ENVELOPE_SMTP_HOST": "127.0.0.1",
            "ENVELOPE_SMTP_PORT": str(mail_sink.port),
            "ENVELOPE_SMTP_FROM": "Envelope <envelope@example.com>",
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, ui_server: EnvelopeServer) -> Iterator[Page]:
    context = browser.new_context(base_url=ui_server.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Saved as a test artifact (test-artifacts/ is ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    width, height = page.evaluate("[window.innerWidth, document.documentElement.scrollHeight]")
    if width < 600:  # phones: the first screens are what a reader checks; the rest is the same cards
        page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": min(height, 2400)})
    else:
        page.screenshot(path=str(path), full_page=True)
    return path
