"""A large README is rendered by the worker, not by the page: upload it with
twine, and the project page shows the note, then the worker's HTML."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from envelope.packaging.readme import INLINE_RENDER_LIMIT
from tests.builders import make_wheel
from tests.integration.clients import twine_upload

ORG = "acme"
PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
LARGE_RST = (
    "Large\n=====\n\n**Rendered by the worker.**\n\n.. note:: An admonition.\n\n"
    + "Filler paragraph with *emphasis*.\n\n" * (INLINE_RENDER_LIMIT // 30)
)


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ENVELOPE_RECONCILE_INTERVAL": "1"}


@pytest.fixture(scope="module")
def reader(server) -> requests.Session:
    server.cli("org", "create", ORG)
    server.cli("user", "create", "rita", "--email", "rita@example.com", "--org", f"{ORG}:reader",
               "--password-stdin", input=PASSWORD + "\n")
    session = requests.Session()
    login = session.get(f"{server.base_url}/login", timeout=30).text
    csrf = CSRF_INPUT.search(login).group(1)
    signed_in = session.post(f"{server.base_url}/login", timeout=30,
                             data={"login": "rita", "password": PASSWORD, "csrf_token": csrf})
    assert signed_in.ok and "/login" not in signed_in.url, signed_in.text[-2000:]
    return session


def description(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    assert page.status_code == 200
    text = page.text
    return text[text.index('id="description-title"'):text.index('id="files-title"')]


def test_a_large_readme_is_rendered_by_the_worker(server, reader, client_env, tmp_path: Path) -> None:
    assert len(LARGE_RST) > INLINE_RENDER_LIMIT
    wheel = make_wheel(tmp_path, "bigdoc", "1.0",
                       extra_metadata=f"Description-Content-Type: text/x-rst\n\n{LARGE_RST}")
    twine_upload(client_env, server.base_url, ORG, server.token(ORG, "--scope", "upload"), [wheel])
    url = f"{server.base_url}/{ORG}/projects/bigdoc/"
    deadline = time.monotonic() + 120
    shown = description(reader, url)
    while "<strong>" not in shown and time.monotonic() < deadline:
        assert "The description is being rendered" in shown, shown[:2000]
        time.sleep(0.5)
        shown = description(reader, url)
    assert "<strong>Rendered by the worker.</strong>" in shown, server.log_text()[-3000:]
    assert "admonition" in shown and "being rendered" not in shown
    assert "Task envelope.render_readme" in server.log_text()  # the worker rendered it, not the page
