"""The nginx-fronted deployment (deploy/nginx) on every backend: pages from
nginx's cache after a cached authorisation, bytes sent by nginx itself
(X-Accel-Redirect to the files directory, or to a presigned S3 path), and
the bounds on how late a publish or a revocation is seen."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.builders import make_wheel, wheel_metadata
from tests.integration.clients import index_url, installed_version, pip, twine_upload, uv
from tests.services import EnvelopeServer, NginxFront

ORG = "acme"
FRESHNESS = 1  # seconds: NGINX_PAGE_FRESHNESS
AUTH_CACHE = 5  # seconds: ENVELOPE_AUTH_CACHE_SECONDS
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def server_env(backend) -> dict[str, str]:
    prefix = "/_envelope_s3" if backend.s3 else "/_envelope_files"
    return {"ENVELOPE_ACCEL_REDIRECT_PREFIX": prefix, "ENVELOPE_TRUSTED_PROXIES": "1"}


@pytest.fixture(scope="module")
def front(server: EnvelopeServer, backend):
    with NginxFront(server, freshness=f"{FRESHNESS}s", s3=backend.s3) as nginx:
        server.cli("org", "create", ORG)
        yield nginx


@pytest.fixture(scope="module")
def upload_token(server: EnvelopeServer, front: NginxFront) -> str:
    return server.token(ORG, "--scope", "upload")


def _get(base: str, path: str, token: str, **headers: str) -> requests.Response:
    return requests.get(base + path, auth=("__token__", token), headers=headers, timeout=30,
                        allow_redirects=False)


def test_twine_pip_and_uv_through_nginx(server, front, upload_token, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "billing", "1.0")
    twine_upload(server.client_env, front.base_url, ORG, upload_token, [wheel])
    read = server.token(ORG, "--scope", "read")
    url = index_url(front.base_url, ORG, read)
    pip(server.client_env, "install", "--target", str(tmp_path / "pip"), "--index-url", url, "billing")
    uv(server.client_env, "pip", "install", "--target", str(tmp_path / "uv"), "--index-url", url, "billing")
    assert installed_version(tmp_path / "pip", "billing") == installed_version(tmp_path / "uv", "billing") == "1.0"

    page = _get(front.base_url, f"/{ORG}/simple/billing/", read, Accept=JSON).json()
    path = f"/{ORG}/simple/billing/" + page["files"][0]["url"]
    # Envelope only authorises and names the internal location; nginx sends the bytes.
    direct = _get(server.base_url, path, read)
    assert direct.status_code == 200 and direct.content == b""
    assert direct.headers["X-Accel-Redirect"].startswith(server.env["ENVELOPE_ACCEL_REDIRECT_PREFIX"] + "/")
    through = _get(front.base_url, path, read)
    assert through.status_code == 200 and through.content == wheel.read_bytes()
    assert "X-Accel-Redirect" not in through.headers
    metadata = _get(front.base_url, path + ".metadata", read)
    assert metadata.status_code == 200 and metadata.content == wheel_metadata(wheel)
    assert _get(front.base_url, path, "envl_not-a-token").status_code == 401


def test_pages_are_cached_per_credentials_and_keys_hide_them(server, front, upload_token, tmp_path: Path) -> None:
    twine_upload(server.client_env, front.base_url, ORG, upload_token, [make_wheel(tmp_path, "cached", "1.0")])
    first, second = server.token(ORG, "--scope", "read"), server.token(ORG, "--scope", "read")
    path = f"/{ORG}/simple/cached/"
    assert _get(front.base_url, path, first).headers["X-Envelope-Cache"] == "MISS"
    assert _get(front.base_url, path, first).headers["X-Envelope-Cache"] == "HIT"
    # Another token is another cache entry: its own authorisation is checked.
    assert _get(front.base_url, path, second).headers["X-Envelope-Cache"] == "MISS"
    for _ in range(2):
        refused = _get(front.base_url, path, first + "x")
        assert refused.status_code == 401 and refused.headers.get("X-Envelope-Cache") != "HIT"
    # Envelope's gzip page is cached beside the identity one, never served to a client that refused gzip.
    for coding, expected in (("gzip", "gzip"), ("identity", None), ("gzip;q=0, br", None), ("gzip", "gzip")):
        response = requests.get(front.base_url + path, auth=("__token__", first), timeout=30, stream=True,
                                headers={"Accept-Encoding": coding})
        raw = response.raw.read(decode_content=False)
        assert response.status_code == 200 and response.headers.get("Content-Encoding") == expected, coding
        assert (b"cached-1.0" in raw) is (expected is None)
    # nginx writes each entry's key into its file: an HMAC, never the token.
    stored = b"".join(p.read_bytes() for p in front.cache_dir.rglob("*") if p.is_file())
    assert b"KEY: " in stored
    assert first.encode() not in stored and second.encode() not in stored


def test_a_publish_is_served_within_the_page_freshness(server, front, upload_token, tmp_path: Path) -> None:
    read = server.token(ORG, "--scope", "read")
    twine_upload(server.client_env, front.base_url, ORG, upload_token, [make_wheel(tmp_path, "fresh", "1.0")])
    path = f"/{ORG}/simple/fresh/"
    _get(front.base_url, path, read, Accept=JSON)
    assert _get(front.base_url, path, read, Accept=JSON).headers["X-Envelope-Cache"] == "HIT"
    twine_upload(server.client_env, front.base_url, ORG, upload_token, [make_wheel(tmp_path, "fresh", "2.0")])
    published = time.monotonic()
    while _get(front.base_url, path, read, Accept=JSON).json()["versions"] != ["1.0", "2.0"]:
        assert time.monotonic() - published < FRESHNESS + 3, "the new version did not show within the freshness bound"
        time.sleep(0.1)


def test_a_revoked_token_is_refused_within_the_documented_bound(server, front, upload_token, tmp_path: Path) -> None:
    twine_upload(server.client_env, front.base_url, ORG, upload_token, [make_wheel(tmp_path, "revoked", "1.0")])
    result = server.cli("token", "create", "--org", ORG, "--scope", "read", "--name", "soon-revoked")
    token = result.stdout.strip().splitlines()[-1]
    token_id = result.stdout.split("#", 1)[1].split()[0]
    path = f"/{ORG}/simple/revoked/"
    _get(front.base_url, path, token)
    assert _get(front.base_url, path, token).headers["X-Envelope-Cache"] == "HIT"
    server.cli("token", "revoke", token_id)
    revoked = time.monotonic()
    while _get(front.base_url, path, token).status_code != 401:
        assert time.monotonic() - revoked < AUTH_CACHE + FRESHNESS + 3, "revoked token still served"
        time.sleep(0.2)
