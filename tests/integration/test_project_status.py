"""PEP 792 project status with real clients, on every backend: pip and uv
install archived and deprecated projects as before and find nothing of a
quarantined one; twine's upload to an archived project is refused with the
reason in its output; `envelope project status` is what sets it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from envelope.index.pages import API_VERSION
from tests.builders import make_wheel
from tests.integration.clients import index_url, installed_version, pip, twine_upload, uv
from tests.services import EnvelopeServer

ORG = "acme"
STATUSES = {"keepme": "active", "oldlib": "archived", "badlib": "quarantined", "legacylib": "deprecated"}


@dataclass
class Setup:
    server: EnvelopeServer
    read_token: str
    upload_token: str
    dist: Path


@pytest.fixture(scope="module")
def setup(server: EnvelopeServer, tmp_path_factory) -> Setup:
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload")
    dist = tmp_path_factory.mktemp("status-dist")
    twine_upload(server.client_env, server.base_url, ORG, upload,
                 [make_wheel(dist, name, "1.0") for name in STATUSES])
    for name, status in STATUSES.items():
        if status != "active":
            out = server.cli("project", "status", ORG, name, status, "--reason", f"{name} is {status}").stdout
            assert out.strip() == f"{name} in {ORG}: {status} ({name} is {status})."
    return Setup(server, server.token(ORG, "--scope", "read"), upload, dist)


def _simple(setup: Setup, name: str) -> dict:
    response = requests.get(f"{setup.server.base_url}/{ORG}/simple/{name}/", auth=("__token__", setup.read_token),
                            headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_page_states_its_status(setup: Setup) -> None:
    for name, status in STATUSES.items():
        page = _simple(setup, name)
        assert page["meta"]["api-version"] == API_VERSION
        expected = {"status": status} if status == "active" else {"status": status, "reason": f"{name} is {status}"}
        assert page["project-status"] == expected
        assert len(page["files"]) == (0 if status == "quarantined" else 1)
    html = requests.get(f"{setup.server.base_url}/{ORG}/simple/badlib/", auth=("__token__", setup.read_token),
                        timeout=60).text
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    assert '<meta name="pypi:project-status-reason" content="badlib is quarantined">' in html
    assert "<a " not in html


def test_pip_and_uv_install_archived_and_deprecated_and_find_nothing_quarantined(setup: Setup, tmp_path: Path) -> None:
    env = setup.server.client_env
    url = index_url(setup.server.base_url, ORG, setup.read_token)
    installable = ["keepme", "oldlib", "legacylib"]
    pip(env, "install", "--target", str(tmp_path / "pip"), "--index-url", url, *installable)
    uv(env, "pip", "install", "--target", str(tmp_path / "uv"), "--index-url", url, *installable)
    for name in installable:
        assert installed_version(tmp_path / "pip", name) == installed_version(tmp_path / "uv", name) == "1.0"

    refused = pip(env, "install", "--target", str(tmp_path / "q"), "--index-url", url, "badlib", check=False)
    print(refused.stderr)
    assert refused.returncode != 0
    assert "No matching distribution found for badlib" in refused.stderr, refused.stderr
    refused = uv(env, "pip", "install", "--target", str(tmp_path / "q"), "--index-url", url, "badlib", check=False)
    print(refused.stderr)
    assert refused.returncode != 0
    assert "there are no versions of badlib" in refused.stderr, refused.stderr


def test_twine_upload_to_an_archived_project_is_refused_with_the_reason(setup: Setup, tmp_path: Path) -> None:
    env = setup.server.client_env
    refused = twine_upload(env, setup.server.base_url, ORG, setup.upload_token,
                           [make_wheel(tmp_path, "oldlib", "2.0")], check=False)
    output = " ".join((refused.stdout + refused.stderr).split())  # twine's rich output wraps lines
    print(output)  # for the record: what a person sees
    assert refused.returncode != 0
    assert "403" in output, output
    assert "Project 'oldlib' is archived (oldlib is archived): it accepts no new uploads." in output, output
    refused = twine_upload(env, setup.server.base_url, ORG, setup.upload_token,
                           [make_wheel(tmp_path, "badlib", "2.0")], check=False)
    assert refused.returncode != 0 and "is quarantined" in refused.stdout + refused.stderr
    assert [f["filename"] for f in _simple(setup, "oldlib")["files"]] == ["oldlib-1.0-py3-none-any.whl"]
    # Deprecated is informational: uploads go through.
    twine_upload(env, setup.server.base_url, ORG, setup.upload_token, [make_wheel(tmp_path, "legacylib", "2.0")])
    assert _simple(setup, "legacylib")["versions"] == ["1.0", "2.0"]
