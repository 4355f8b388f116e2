"""Bad uploads get a clear 4xx, change nothing, and leave the server healthy."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

from tests import builders
from tests.builders import make_wheel
from tests.integration.clients import twine_upload

ORG = "acme"
MAX_FILE_SIZE = 2 * 1024**2  # bytes; the server fixture for this module is started with it


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ENVELOPE_MAX_FILE_SIZE": str(MAX_FILE_SIZE)}


@pytest.fixture(scope="module")
def upload_token(server) -> str:
    server.cli("org", "create", ORG)
    return server.token(ORG, "--scope", "upload")


def post(server, token: str | None, path: Path | None, *, filename: str | None = None, **fields: str):
    data = {":action": "file_upload", "protocol_version": "1", **fields}
    files = {}
    if path is not None:
        files["content"] = (filename or path.name, path.read_bytes(), "application/octet-stream")
        data.setdefault("sha256_digest", hashlib.sha256(path.read_bytes()).hexdigest())
    auth = ("__token__", token) if token else None
    return requests.post(f"{server.base_url}/{ORG}/legacy/", data=data, files=files, auth=auth, timeout=60)


def assert_nothing_published(server, token: str) -> None:
    listing = requests.get(f"{server.base_url}/{ORG}/simple/", auth=("__token__", token),
                           headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30)
    assert listing.json()["projects"] == []
    assert requests.get(f"{server.base_url}/healthz", timeout=30).status_code == 200


HOSTILE = {
    "zip slip": (builders.make_zip_slip_wheel, "'..'"),
    "absolute path": (builders.make_absolute_path_wheel, "absolute path"),
    "zip bomb": (builders.make_zip_bomb_wheel, "zip bomb"),
    "no metadata": (builders.make_wheel_without_metadata, "METADATA"),
    "name mismatch": (builders.make_wheel_with_mismatched_name, "does not match"),
    "tar slip": (builders.make_tar_slip_sdist, "'..'"),
    "tar symlink": (builders.make_tar_symlink_sdist, "links outside"),
    "bad metadata version": (builders.make_sdist_bad_metadata_version, "metadata"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_archives_are_refused(server, upload_token: str, tmp_path: Path, kind: str) -> None:
    build, expected = HOSTILE[kind]
    archive = build(tmp_path)
    response = post(server, upload_token, archive)
    assert response.status_code == 400, response.text
    assert expected.lower() in response.reason.lower()
    assert_nothing_published(server, upload_token)


def test_not_an_archive_is_refused(server, upload_token: str, tmp_path: Path) -> None:
    path = builders.make_not_a_zip(tmp_path, filename="evil-1.0-py3-none-any.whl")
    response = post(server, upload_token, path)
    assert response.status_code == 400 and "zip" in response.reason.lower()
    assert_nothing_published(server, upload_token)


@pytest.mark.parametrize(
    "filename, reason",
    [
        ("evil.exe", "Unsupported file type"),
        ("../../etc/passwd.whl", "Invalid distribution filename"),
        ("not a wheel.whl", "Invalid distribution filename"),
    ],
)
def test_bad_filenames_are_refused(server, upload_token, tmp_path, filename, reason) -> None:
    wheel = make_wheel(tmp_path, "goodname", "1.0.0")
    response = post(server, upload_token, wheel, filename=filename)
    assert response.status_code == 400 and reason in response.reason
    assert_nothing_published(server, upload_token)


def test_wrong_digest_is_refused(server, upload_token: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "digest-test", "1.0.0")
    response = post(server, upload_token, wheel, sha256_digest="0" * 64)
    assert response.status_code == 400 and "digest" in response.reason
    assert_nothing_published(server, upload_token)


def test_oversized_file_is_refused_with_the_limit(server, upload_token: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "huge", "1.0.0", files={"huge/blob.bin": os.urandom(MAX_FILE_SIZE + 1024)})
    response = post(server, upload_token, wheel)
    assert response.status_code == 413
    assert str(MAX_FILE_SIZE) in response.reason
    assert_nothing_published(server, upload_token)


def test_oversized_form_field_is_refused(server, upload_token: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "chatty", "1.0.0")
    response = post(server, upload_token, wheel, description="x" * (5 * 1024**2))
    assert response.status_code == 413 and "field" in response.reason
    assert_nothing_published(server, upload_token)


def test_upload_needs_credentials_and_an_action(server, upload_token: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "auth-needed", "1.0.0")
    anonymous = post(server, None, wheel)
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["WWW-Authenticate"]
    assert post(server, upload_token, None).status_code == 400
    wrong = post(server, upload_token, wheel, **{":action": "remove_pkg"})
    assert wrong.status_code == 400 and "Unsupported" in wrong.reason
    assert_nothing_published(server, upload_token)


LONG_VERSION = "1.0+" + "a" * 146  # a valid local version; the index stores at most 100 characters
LONG_REQUIRES_PYTHON = ",".join(f"!=3.{i}.*" for i in range(30))  # valid; at most 200 are stored


@pytest.mark.parametrize(
    "name, version, requires_python, message",
    [
        ("longversion", LONG_VERSION, None, "Version is longer than 100 characters"),
        ("longpython", "1.0", LONG_REQUIRES_PYTHON, "Requires-Python is longer than 200 characters"),
    ],
)
def test_fields_longer_than_the_index_stores_are_refused_through_twine(
    server, upload_token: str, tmp_path: Path, name, version, requires_python, message
) -> None:
    wheel = make_wheel(tmp_path, name, version, requires_python=requires_python)
    env = {**server.client_env, "COLUMNS": "1000"}  # twine's console must not wrap the reason
    result = twine_upload(env, server.base_url, ORG, upload_token, [wheel], check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0 and "400" in output and message in output, output
    assert_nothing_published(server, upload_token)
