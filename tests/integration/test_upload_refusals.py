"""Bad uploads get a clear 4xx, change nothing, and leave the server healthy."""
from __future__ import annotations

import hashlib
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests import builders
from tests.builders import make_wheel
from tests.integration.clients import index_url, installed_version, pip, twine_upload

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
        ("../../goodname-1.0.0-py3-none-any.whl", "has a path in it"),
        ("/abs/goodname-1.0.0-py3-none-any.whl", "has a path in it"),
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


# --------------------------------------------------------------------------- issue 8: local versions, spellings, tags


def test_local_versions_are_refused_for_plain_and_restricted_tokens(server, upload_token: str, tmp_path: Path) -> None:
    """'==1.0' matches '1.0+evil' and pip would prefer it: a token restricted to
    billing==1.0 must not publish it, nor may any other token."""
    restricted = server.token(ORG, "--scope", "upload", "--project", "billing==1.0")
    env = {**server.client_env, "COLUMNS": "1000"}  # twine's console must not wrap the reason
    for token in (upload_token, restricted):
        for archive in (make_wheel(tmp_path, "billing", "1.0+evil"), builders.make_sdist(tmp_path, "billing", "1.0+evil")):
            result = twine_upload(env, server.base_url, ORG, token, [archive], check=False)
            output = " ".join((result.stdout + result.stderr).split())
            assert result.returncode != 0 and "400" in output, output
            assert "Can't use PEP 440 local versions: '1.0+evil'" in output, output
    assert_nothing_published(server, upload_token)


@pytest.mark.parametrize(
    "platform",
    ["any#frag", "any?q=1", 'a"b', "linux;rm", "%2e%2e", "any%23x"],
)
def test_hostile_wheel_tags_are_refused(server, upload_token: str, tmp_path: Path, platform: str) -> None:
    wheel = make_wheel(tmp_path, "tagged", "1.0.0")
    filename = f"tagged-1.0.0-py3-none-{platform}.whl"
    response = post(server, upload_token, wheel, filename=filename)
    assert response.status_code == 400, response.text
    # requests writes '"' in a multipart filename as %22 (HTML5 form encoding), which is refused the same way.
    assert "Invalid wheel filename" in response.reason and "platform tag" in response.reason, response.reason
    assert_nothing_published(server, upload_token)


# Tests below publish: they use an organization of their own, so "nothing published"
# in ORG above stays true whatever order the tests run in.
TENANT = "spellings"


@pytest.fixture(scope="module")
def tenant(server) -> dict[str, object]:
    """An organization with an upload token and an owner signed in to the web UI
    (deleting files takes an owner; tokens are at most maintainers)."""
    server.cli("org", "create", TENANT)
    token = server.token(TENANT, "--scope", "upload")
    password = "correct horse battery staple"
    server.cli("user", "create", "olga", "--email", "olga@example.com", "--org", f"{TENANT}:owner",
               "--password-stdin", input=password + "\n")
    browser = requests.Session()
    page = browser.get(f"{server.base_url}/login", timeout=30).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert csrf, page
    csrf_token = csrf.group(1) or csrf.group(2)
    signed_in = browser.post(f"{server.base_url}/login", timeout=30,
                             data={"csrf_token": csrf_token, "login": "olga", "password": password})
    assert signed_in.status_code == 200 and not signed_in.url.endswith("/login"), signed_in.text
    browser.headers["X-CSRFToken"] = csrf_token
    return {"token": token, "browser": browser}


def tenant_post(server, tenant, path: Path, *, filename: str | None = None) -> requests.Response:
    data = {":action": "file_upload", "protocol_version": "1"}
    files = {"content": (filename or path.name, path.read_bytes(), "application/octet-stream")}
    return requests.post(f"{server.base_url}/{TENANT}/legacy/", data=data, files=files,
                         auth=("__token__", tenant["token"]), timeout=60)


def tenant_files(server, tenant, name: str) -> dict[str, str]:
    """filename -> sha256 of what the tenant's index lists for `name`."""
    response = requests.get(f"{server.base_url}/{TENANT}/simple/{name}/", auth=("__token__", tenant["token"]),
                            headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30)
    if response.status_code == 404:
        return {}
    return {f["filename"]: f["hashes"]["sha256"] for f in response.json()["files"]}


def test_another_spelling_cannot_double_or_replace_a_file(server, tenant, tmp_path: Path) -> None:
    original = make_wheel(tmp_path / "a", "spelled", "1.0")
    assert tenant_post(server, tenant, original).status_code == 200
    other_bytes = make_wheel(tmp_path / "b", "spelled", "1.0.0", files={"spelled/extra.py": b"EVIL = 1\n"})
    for path, filename in [
        (other_bytes, None),  # spelled-1.0.0-py3-none-any.whl beside spelled-1.0-py3-none-any.whl
        (other_bytes, "Spelled-1.0-py3-none-any.whl"),
        (original, "Spelled-1.0.0-py3-none-any.whl"),  # the same bytes under another name: refused, as PyPI does
    ]:
        response = tenant_post(server, tenant, path, filename=filename)
        assert response.status_code == 400, response.text
        assert response.reason.startswith("File already exists") and "spelled-1.0-py3-none-any.whl" in response.reason
    assert tenant_files(server, tenant, "spelled") == {original.name: builders.sha256_file(original)}
    assert tenant_post(server, tenant, original).status_code == 200  # the same upload again: still a no-op


def test_a_deleted_file_is_burned_in_every_spelling(server, tenant, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "a", "burned", "1.9.post1")
    assert wheel.name == "burned-1.9.post1-py3-none-any.whl"
    assert tenant_post(server, tenant, wheel).status_code == 200
    deleted = tenant["browser"].delete(
        f"{server.base_url}/api/v1/orgs/{TENANT}/projects/burned/releases/1.9.post1",
        params={"confirm": "1.9.post1"}, timeout=30)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == [wheel.name], deleted.text
    for version, filename in [("1.9.post1", "Burned-1.9.post1-py3-none-any.whl"),
                              ("1.9.0.post1", "burned-1.9.0.post1-py3-none-any.whl")]:
        new_bytes = make_wheel(tmp_path / version, "burned", version, files={"burned/evil.py": b"EVIL = 1\n"})
        response = tenant_post(server, tenant, new_bytes, filename=filename)
        assert response.status_code == 400, response.text
        assert response.reason.startswith("File already exists") and "deleted" in response.reason
    assert tenant_files(server, tenant, "burned") == {}


class Hrefs(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def test_index_urls_are_percent_encoded_and_pip_follows_them(server, tenant, tmp_path: Path) -> None:
    """An epoch's '!' is the one legal filename character that path-segment
    encoding changes: the index prints %21, and pip's request for it finds the file."""
    plain = make_wheel(tmp_path, "encoded", "1.0")
    epoch = make_wheel(tmp_path, "encoded", "1!2.0")
    assert epoch.name == "encoded-1!2.0-py3-none-any.whl"
    for wheel in (plain, epoch):
        assert tenant_post(server, tenant, wheel).status_code == 200
    auth = ("__token__", tenant["token"])
    page_url = f"{server.base_url}/{TENANT}/simple/encoded/"
    html_page = requests.get(page_url, auth=auth, headers={"Accept": "text/html"}, timeout=30).text
    sha = {w.name: builders.sha256_file(w) for w in (plain, epoch)}
    assert sorted(Hrefs(html_page).hrefs) == sorted([
        f"../../files/{sha[plain.name]}/encoded-1.0-py3-none-any.whl#sha256={sha[plain.name]}",  # unchanged
        f"../../files/{sha[epoch.name]}/encoded-1%212.0-py3-none-any.whl#sha256={sha[epoch.name]}",
    ])
    listing = requests.get(f"{server.base_url}/{TENANT}/simple/", auth=auth, timeout=30).text
    assert "encoded/" in Hrefs(listing).hrefs
    data = requests.get(page_url, auth=auth, headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                        timeout=30).json()
    for entry in data["files"]:
        path = entry["url"].split("/")[-1]
        assert "#" not in entry["url"] and "?" not in entry["url"] and "!" not in path
        metadata = requests.get(urljoin(page_url, entry["url"] + ".metadata"), auth=auth, timeout=30)
        assert metadata.status_code == 200 and hashlib.sha256(metadata.content).hexdigest() == (
            entry["core-metadata"]["sha256"])
        download = requests.get(urljoin(page_url, entry["url"]), auth=auth, timeout=30)
        assert hashlib.sha256(download.content).hexdigest() == entry["hashes"]["sha256"]
    url = index_url(server.base_url, TENANT, tenant["token"])
    pip(server.client_env, "install", "--target", str(tmp_path / "t"), "--index-url", url, "encoded==1!2.0")
    assert installed_version(tmp_path / "t", "encoded") == "1!2.0"
