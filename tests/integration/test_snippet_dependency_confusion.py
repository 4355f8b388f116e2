"""The project page's uv snippet against dependency confusion, with the real
`uv lock`: private `billing` needs the private `ledger`, and a "public" index
(a tiny local server standing in for PyPI) has an unrelated, higher-versioned
`ledger`.

- The snippet as the page writes it (Envelope the `default = true` index,
  alone), with the organization's upstream proxy pointed at the public
  index: `ledger` comes from Envelope, public packages through the proxy.
- The old snippet (Envelope `explicit = true`, only for `billing`; PyPI the
  default): uv took the public `ledger`. This is what issue 10 reported.
- The snippet plus the public index added as a second [[tool.uv.index]],
  which the page warns against: uv asks every other index before the
  default one, so the public `ledger` wins again, as the warning says.

The upload token page's publish snippets run as written, too: twine by its
variables and by ~/.pypirc, and uv publish.

One SQLite server for the module; each lock takes about a second.
"""
from __future__ import annotations

import hashlib
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from envelope.index.snippets import install_snippets, public_packages, publish_snippets
from tests.builders import make_wheel
from tests.integration.clients import BIN, twine_upload
from tests.services import EnvelopeServer, client_environ

ORG = "acme"
PROJECT = """[project]
name = "app"
version = "0"
requires-python = ">=3.9"
dependencies = ["billing"]

"""
# The uv snippet the project page showed before issue 10.
OLD_UV_SNIPPET = """[[tool.uv.index]]
name = "{org}"
url = "{url}"
authenticate = "always"
explicit = true

[tool.uv.sources]
billing = {{ index = "{org}" }}
"""


class PublicIndex(ThreadingHTTPServer):
    """A PEP 503 simple index of a few wheels on a loopback port: PyPI's stand-in."""

    def __init__(self, wheels: list[Path]) -> None:
        self.wheels = {w.name: w for w in wheels}
        super().__init__(("127.0.0.1", 0), _PublicHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/simple/"


class _PublicHandler(BaseHTTPRequestHandler):
    server: PublicIndex

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's hook; uv asks before a download
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:  # noqa: N802 - http.server's hook
        parts = self.path.strip("/").split("/")
        if parts[0] == "simple" and len(parts) == 2:
            links = "".join(
                f'<a href="/files/{name}#sha256={hashlib.sha256(path.read_bytes()).hexdigest()}">{name}</a>\n'
                for name, path in sorted(self.server.wheels.items()) if name.startswith(parts[1] + "-")
            )
            body, kind = f"<!DOCTYPE html><html><body>\n{links}</body></html>".encode(), "text/html"
            status = 200 if links else 404
        elif parts[0] == "files" and len(parts) == 2 and parts[1] in self.server.wheels:
            body, kind, status = self.server.wheels[parts[1]].read_bytes(), "application/octet-stream", 200
        else:
            body, kind, status = b"not found", "text/plain", 404
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Setup:
    server: EnvelopeServer
    public: PublicIndex
    read_token: str
    upload_token: str

    @property
    def index(self) -> str:
        return f"{self.server.base_url}/{ORG}/simple/"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    dist = tmp_path_factory.mktemp("dist")
    public = PublicIndex([make_wheel(dist / "public", "ledger", "99.0"), make_wheel(dist / "public", "tinydep", "1.0")])
    threading.Thread(target=public.serve_forever, daemon=True).start()
    server = EnvelopeServer(
        tmp_path_factory.mktemp("envelope"),
        extra_env={"ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.0/8"},  # the public index is on loopback
    ).start()
    try:
        server.cli("org", "create", ORG)
        upload = server.token(ORG, "--scope", "upload")
        private = [make_wheel(dist / "private", "billing", "1.0", requires_dist=["ledger>=1", "tinydep>=1"]),
                   make_wheel(dist / "private", "ledger", "1.0")]
        twine_upload(server.client_env, server.base_url, ORG, upload, private)
        server.cli("org", "proxy", ORG, "--upstream", public.url)
        yield Setup(server, public, server.token(ORG, "--scope", "read"), upload)
    finally:
        server.stop()
        public.shutdown()
        public.server_close()


def uv_lock(setup: Setup, directory: Path, pyproject: str, **env: str) -> dict[str, tuple[str, str]]:
    """Write pyproject.toml, run the page's uv credentials snippet and the real
    `uv lock` in one shell as a reader would, and return name -> (version, index)."""
    directory.mkdir()
    (directory / "pyproject.toml").write_text(pyproject)
    snippets = {s.key: s.text for s in install_snippets(setup.server.base_url, ORG, project="billing")}
    # uv must read [tool.uv] from the project, so no UV_NO_CONFIG; an empty
    # XDG_CONFIG_HOME keeps the machine's uv.toml out instead.
    config_home = directory / "config"
    config_home.mkdir()
    environ = {k: v for k, v in client_environ().items() if k != "UV_NO_CONFIG"}
    environ.update(XDG_CONFIG_HOME=str(config_home), ENVELOPE_TOKEN=setup.read_token, **env)
    script = f"set -e\n{snippets['uv-env']}\nexec {BIN / 'uv'} lock --no-progress\n"
    result = subprocess.run(["bash", "-c", script], cwd=directory, env=environ, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, f"uv lock failed:\n{result.stdout}\n{result.stderr}"
    lock = tomllib.loads((directory / "uv.lock").read_text())
    return {p["name"]: (p["version"], p["source"].get("registry", "")) for p in lock["package"] if p["name"] != "app"}


def test_the_page_snippet_takes_envelopes_ledger_and_public_packages_through_the_proxy(setup, tmp_path):
    snippet = {s.key: s.text for s in install_snippets(setup.server.base_url, ORG, project="billing")}["uv"]
    assert "default = true" in snippet and "explicit" not in snippet
    locked = uv_lock(setup, tmp_path / "app", PROJECT + snippet)
    assert locked == {
        "billing": ("1.0", setup.index),
        "ledger": ("1.0", setup.index),  # the private one: never proxied, never from the public index
        "tinydep": ("1.0", setup.index),  # public, through the organization's proxy, same URL
    }
    assert public_packages(ORG, setup.public.url).proxied


def test_the_old_explicit_snippet_took_the_public_ledger(setup, tmp_path):
    old = OLD_UV_SNIPPET.format(org=ORG, url=setup.index)
    # Without a default index uv asks PyPI; the public index stands in for it.
    locked = uv_lock(setup, tmp_path / "app", PROJECT + old, UV_DEFAULT_INDEX=setup.public.url)
    assert locked["billing"] == ("1.0", setup.index)
    assert locked["ledger"] == ("99.0", setup.public.url)  # dependency confusion


def test_a_second_index_beside_the_default_answers_first_as_the_warning_says(setup, tmp_path):
    snippet = {s.key: s.text for s in install_snippets(setup.server.base_url, ORG, project="billing")}["uv"]
    second = f'\n[[tool.uv.index]]\nname = "pypi"\nurl = "{setup.public.url}"\n'
    locked = uv_lock(setup, tmp_path / "app", PROJECT + snippet + second)
    assert locked["ledger"] == ("99.0", setup.public.url)
    warning = public_packages(ORG, None)
    assert not warning.proxied and "another uv index" in warning.text and "dependency confusion" in warning.text


@pytest.mark.parametrize("key", ["twine-env", "pypirc", "uv-publish"])
def test_publish_snippets_upload_as_written(setup, tmp_path, key):
    """The token page's snippet with the real token in it, pasted into a shell
    (.pypirc saved to ~/.pypirc first, then the command its note gives)."""
    snippet = {s.key: s for s in publish_snippets(setup.server.base_url, ORG, token=setup.upload_token)}[key]
    name = f"published-by-{key}"
    make_wheel(tmp_path / "dist", name, "1.0")
    home = tmp_path / "home"
    home.mkdir()
    if key == "pypirc":
        (home / ".pypirc").write_text(snippet.text)
        script = snippet.note.removeprefix("Then: ")
    else:
        script = snippet.text
    environ = client_environ()
    environ.update(HOME=str(home), PATH=f"{BIN}:{environ['PATH']}")
    result = subprocess.run(["bash", "-ec", script], cwd=tmp_path, env=environ, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, f"{key} failed:\n{result.stdout}\n{result.stderr}"
    page = requests.get(f"{setup.index}{name}/", auth=("__token__", setup.read_token), timeout=30)
    assert page.status_code == 200 and f"{name.replace('-', '_')}-1.0-py3-none-any.whl" in page.text
