"""pip, uv and twine against a real Envelope server, on every backend.

One server per backend per module (see conftest `server`); the corpus below
is uploaded once with twine, then installed and downloaded with pip and uv.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from envelope.db import Database
from envelope.index.pages import API_VERSION
from envelope.models import Organization
from envelope.orgs.membership import operator_access
from envelope.orgs.tokens import create_token
from tests.builders import make_sdist, make_wheel
from tests.integration.html_proxy import HtmlOnlyProxy
from tests.integration.clients import index_url, installed_version, pip, pip_version_python, run, twine_upload, uv

ORG = "acme"
AUTH_CACHE_BOUND = 5 + 1  # seconds: ENVELOPE_AUTH_CACHE_SECONDS plus slack
IMMUTABLE = "private, max-age=31536000, immutable"
PLATFORM_TAGS = {
    "manylinux": "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "musllinux": "cp311-cp311-musllinux_1_2_x86_64",
    "macos": "cp311-cp311-macosx_11_0_arm64",
    "windows": "cp311-cp311-win_amd64",
}


@dataclass
class Corpus:
    server: object
    upload_token: str
    read_token: str
    files: dict[str, Path]


@pytest.fixture(scope="module")
def corpus(server, tmp_path_factory) -> Corpus:
    dist = tmp_path_factory.mktemp("dist")
    files: dict[str, Path] = {
        "billing-1.0.0": make_wheel(dist, "billing", "1.0.0", requires_python=">=3.8"),
        "billing-1.5.0": make_wheel(dist, "billing", "1.5.0", requires_python=">=3.8"),
        "billing-1.5.0-sdist": make_sdist(dist, "billing", "1.5.0"),
        "billing-2.0.0": make_wheel(dist, "billing", "2.0.0"),
        "auth-lib-0.1.0": make_wheel(dist, "Auth.Lib", "0.1.0"),
    }
    for label, tag in PLATFORM_TAGS.items():
        files[f"billing-1.5.0-{label}"] = make_wheel(dist, "billing", "1.5.0", tags=tag)
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload", "--name", "ci")
    twine_upload(server.client_env, server.base_url, ORG, upload, list(files.values()))
    read = server.token(ORG, "--scope", "read")
    return Corpus(server, upload, read, files)


def _get(corpus: Corpus, path: str, token: str | None = None, **headers: str) -> requests.Response:
    token = corpus.read_token if token is None else token
    auth = ("__token__", token) if token else None
    return requests.get(corpus.server.base_url + path, auth=auth, headers=headers,
                        allow_redirects=False, timeout=30)


def test_pip_installs_what_twine_uploaded(corpus: Corpus, tmp_path: Path) -> None:
    env = corpus.server.client_env
    url = index_url(corpus.server.base_url, ORG, corpus.read_token)
    pip(env, "install", "--target", str(tmp_path / "t"), "--index-url", url, "billing==1.5.0")
    assert installed_version(tmp_path / "t", "billing") == "1.5.0"


@pytest.mark.parametrize("version", ["22.3.1", "23.0.1", "23.1.2"])
def test_older_pips_install_from_the_json_form(corpus: Corpus, tmp_path: Path, version: str) -> None:
    """Debian 12's pip is 23.0.1: pips 22.3-23.1 crash on a dict under JSON's
    old "dist-info-metadata" key, which PEP 714 says servers leave out."""
    env = corpus.server.client_env
    python = pip_version_python(version, env)
    url = index_url(corpus.server.base_url, ORG, corpus.read_token)
    run([str(python), "-m", "pip", "install", "--no-cache-dir", "--target", str(tmp_path / "t"),
         "--index-url", url, "billing==1.5.0"], env)
    assert installed_version(tmp_path / "t", "billing") == "1.5.0"
    page = _get(corpus, f"/{ORG}/simple/billing/", Accept="application/vnd.pypi.simple.v1+json").json()
    assert all("dist-info-metadata" not in f for f in page["files"])
    html = _get(corpus, f"/{ORG}/simple/billing/", Accept="text/html").text
    assert "data-dist-info-metadata=" in html  # older HTML readers keep it


def test_pip_and_uv_work_from_the_html_form(corpus: Corpus, tmp_path: Path) -> None:
    host, port = corpus.server.host, corpus.server.port
    with HtmlOnlyProxy(host, port) as proxy:
        url = index_url(f"http://127.0.0.1:{proxy.port}", ORG, corpus.read_token)
        env = corpus.server.client_env
        pip(env, "install", "--target", str(tmp_path / "t"), "--index-url", url, "billing<2")
        uv(env, "pip", "install", "--target", str(tmp_path / "u"), "--index-url", url, "billing<2")
    assert installed_version(tmp_path / "t", "billing") == "1.5.0"
    assert installed_version(tmp_path / "u", "billing") == "1.5.0"
    # both clients asked for JSON first: the proxy is what made them read HTML
    assert any("vnd.pypi.simple.v1+json" in accept for accept in proxy.accepts_seen)


def test_pip_picks_the_wheel_for_each_platform(corpus: Corpus, tmp_path: Path) -> None:
    url = index_url(corpus.server.base_url, ORG, corpus.read_token)
    for platform, expected in [
        ("manylinux_2_17_x86_64", "manylinux_2_17_x86_64"),
        ("win_amd64", "win_amd64"),
        ("macosx_11_0_arm64", "macosx_11_0_arm64"),
    ]:
        dest = tmp_path / platform
        pip(corpus.server.client_env, "download", "--no-deps", "--only-binary=:all:",
            "--platform", platform, "--python-version", "3.11", "--implementation", "cp",
            "-d", str(dest), "--index-url", url, "billing==1.5.0")
        (downloaded,) = dest.iterdir()
        assert expected in downloaded.name and downloaded.name.startswith("billing-1.5.0-cp311")


def test_pip_download_sdist_verifies_hash(corpus: Corpus, tmp_path: Path) -> None:
    url = index_url(corpus.server.base_url, ORG, corpus.read_token)
    pip(corpus.server.client_env, "download", "--no-deps", "--no-binary=:all:", "--no-build-isolation",
        "-d", str(tmp_path), "--index-url", url, "billing==1.5.0")
    (downloaded,) = tmp_path.iterdir()
    assert downloaded.read_bytes() == corpus.files["billing-1.5.0-sdist"].read_bytes()


def test_uv_installs_with_token_in_index_url(corpus: Corpus, tmp_path: Path) -> None:
    env = corpus.server.client_env
    uv(env, "venv", str(tmp_path / "venv"))
    url = index_url(corpus.server.base_url, ORG, corpus.read_token)
    uv(env, "pip", "install", "--python", str(tmp_path / "venv" / "bin" / "python"),
       "--index-url", url, "billing<2", "auth-lib")
    listing = uv(env, "pip", "list", "--python", str(tmp_path / "venv" / "bin" / "python")).stdout
    assert "billing" in listing and "1.5.0" in listing and "auth-lib" in listing


def test_restricted_token_hides_other_versions_and_projects(corpus: Corpus, tmp_path: Path) -> None:
    server = corpus.server
    token = server.token(ORG, "--project", "billing>=1,<2")
    url = index_url(server.base_url, ORG, token)
    env = server.client_env
    refused = pip(env, "install", "--target", str(tmp_path / "a"), "--index-url", url,
                  "billing==2.0.0", check=False)
    assert refused.returncode != 0 and "billing==2.0.0" in refused.stderr
    pip(env, "install", "--target", str(tmp_path / "b"), "--index-url", url, "billing")
    assert installed_version(tmp_path / "b", "billing") == "1.5.0"

    listing = _get(corpus, f"/{ORG}/simple/", token).text
    assert "billing" in listing and "auth" not in listing
    assert _get(corpus, f"/{ORG}/simple/auth-lib/", token).status_code == 404
    detail = _get(corpus, f"/{ORG}/simple/billing/", token,
                  Accept="application/vnd.pypi.simple.v1+json").json()
    assert detail["versions"] == ["1.0.0", "1.5.0"]
    hidden = next(f for f in _get(corpus, f"/{ORG}/simple/billing/",
                                   Accept="application/vnd.pypi.simple.v1+json").json()["files"]
                  if f["filename"].startswith("billing-2.0.0"))
    file_path = f"/{ORG}/simple/billing/{hidden['url']}"
    assert _get(corpus, file_path).status_code in (200, 302)  # allowed: served or redirected to S3
    assert _get(corpus, file_path, token).status_code == 404


def issue_token_expiring_at(server, expires: datetime) -> str:
    """A read token issued straight into the server's database: no CLI
    subprocess (which runs migrations first) between choosing the expiry and
    using the token, so the token's first use is well before its expiry."""
    db = Database(server.env.get("DATABASE_URL") or f"sqlite:///{server.data_dir / 'envelope.db'}")
    try:
        with db.write() as session:
            org = session.scalar(select(Organization).where(Organization.name == ORG))
            return create_token(session, operator_access(org, "tests"), name="expiring", expires=expires).secret
    finally:
        db.dispose()


def test_expired_token_is_refused_with_a_reason(corpus: Corpus, tmp_path: Path) -> None:
    expires = datetime.now(timezone.utc) + timedelta(seconds=5)
    token = issue_token_expiring_at(corpus.server, expires)
    assert _get(corpus, f"/{ORG}/simple/", token).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.5)
    response = _get(corpus, f"/{ORG}/simple/", token)
    assert response.status_code == 401
    assert "expired" in response.reason
    assert response.headers["WWW-Authenticate"] == 'Basic realm="envelope"'
    result = pip(corpus.server.client_env, "install", "--target", str(tmp_path), "--index-url",
                 index_url(corpus.server.base_url, ORG, token), "billing", check=False)
    assert result.returncode != 0


def test_revoked_token_stops_working(corpus: Corpus) -> None:
    server = corpus.server
    token = server.token(ORG, "--name", "to-revoke")
    assert _get(corpus, f"/{ORG}/simple/", token).status_code == 200
    listed = server.cli("token", "list", "--org", ORG, "--json").stdout
    (row,) = [r for r in json.loads(listed) if r["name"] == "to-revoke"]
    assert row["last_used"] is not None
    server.cli("token", "revoke", str(row["id"]))
    # Verified credentials are trusted for ENVELOPE_AUTH_CACHE_SECONDS (5 s by default), no longer.
    revoked_at = time.monotonic()
    while (response := _get(corpus, f"/{ORG}/simple/", token)).status_code == 200:
        assert time.monotonic() - revoked_at < AUTH_CACHE_BOUND, "revoked token still accepted"
        time.sleep(0.2)
    assert response.status_code == 401 and "revoked" in response.reason


@pytest.mark.parametrize(
    "credentials",
    [None, ("__token__", "envl_" + "0" * 38), ("__token__", "not-a-token"), ("nobody", "password1")],
)
def test_bad_credentials_get_a_basic_challenge(corpus: Corpus, credentials) -> None:
    response = requests.get(f"{corpus.server.base_url}/{ORG}/simple/", auth=credentials, timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="envelope"'


def test_unknown_and_foreign_organizations_look_the_same(corpus: Corpus) -> None:
    server = corpus.server
    server.cli("org", "create", "other")
    foreign = server.token("other")
    assert _get(corpus, f"/{ORG}/simple/", foreign).status_code == 404
    assert _get(corpus, "/no-such-org/simple/", foreign).status_code == 404
    assert _get(corpus, f"/{ORG}/simple/billing/", foreign).status_code == 404
    assert _get(corpus, f"/{ORG}/simple/no-such-project/").status_code == 404


def test_json_and_html_pages_carry_the_peps_fields(corpus: Corpus) -> None:
    page = _get(corpus, f"/{ORG}/simple/billing/", Accept="application/vnd.pypi.simple.v1+json")
    assert page.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    data = page.json()
    assert data["meta"]["api-version"] == API_VERSION
    assert data["versions"] == ["1.0.0", "1.5.0", "2.0.0"]
    wheel = next(f for f in data["files"] if f["filename"] == corpus.files["billing-1.5.0"].name)
    assert wheel["size"] == corpus.files["billing-1.5.0"].stat().st_size
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["upload-time"].endswith("Z")
    sdist = next(f for f in data["files"] if f["filename"].endswith(".tar.gz"))
    assert sdist["core-metadata"] is False

    metadata = requests.get(f"{corpus.server.base_url}/{ORG}/simple/billing/{wheel['url']}.metadata",
                            auth=("__token__", corpus.read_token), timeout=30)  # follows S3 redirects
    assert metadata.status_code == 200
    assert hashlib.sha256(metadata.content).hexdigest() == wheel["core-metadata"]["sha256"]
    assert b"Name: billing" in metadata.content

    html = _get(corpus, f"/{ORG}/simple/billing/", Accept="text/html")
    assert html.headers["Content-Type"].startswith("text/html")
    assert f'data-core-metadata="sha256={wheel["core-metadata"]["sha256"]}"' in html.text
    assert 'data-requires-python="&gt;=3.8"' in html.text
    assert f"#sha256={wheel['hashes']['sha256']}" in html.text

    listing = _get(corpus, f"/{ORG}/simple/", Accept="application/vnd.pypi.simple.v1+json").json()
    assert {"name": "Auth.Lib"} in listing["projects"]
    assert _get(corpus, f"/{ORG}/simple/", Accept="image/png").status_code == 406


def test_file_downloads_have_immutable_caching_and_head(corpus: Corpus, backend) -> None:
    data = _get(corpus, f"/{ORG}/simple/billing/", Accept="application/vnd.pypi.simple.v1+json").json()
    wheel = data["files"][0]
    path = f"/{ORG}/simple/billing/{wheel['url']}"
    response = _get(corpus, path)
    if backend.name == "postgres-s3":
        # S3: a presigned redirect, identical for every request in its time window
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith(backend.s3.endpoint_url) and "X-Amz-Signature=" in location
        assert _get(corpus, path).headers["Location"] == location
        followed = requests.get(location, timeout=30)  # no credentials: the signature is the grant
        assert followed.status_code == 200
        assert followed.headers["Content-Type"] == "application/zip"
        assert followed.headers["Cache-Control"] == IMMUTABLE
        content = followed.content
        # The object itself carries them too, for a CDN in front of the bucket.
        stored = backend.s3.client().head_object(Bucket=backend.bucket,
                                                 Key=urlsplit(location).path.split("/", 2)[2])
        assert (stored["ContentType"], stored["CacheControl"]) == ("application/zip", IMMUTABLE)
    else:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/zip"
        assert int(response.headers["Content-Length"]) == len(response.content)
        assert "immutable" in response.headers["Cache-Control"]
        assert _get(corpus, path, **{"If-None-Match": response.headers["ETag"]}).status_code == 304
        content = response.content
    assert len(content) == wheel["size"]
    assert hashlib.sha256(content).hexdigest() == wheel["hashes"]["sha256"]
    head = requests.head(corpus.server.base_url + path, auth=("__token__", corpus.read_token), timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == wheel["size"]
    assert "immutable" in head.headers["Cache-Control"]
    assert _get(corpus, path, token="").status_code == 401


@pytest.mark.parametrize("suffix, content_type", [(".whl", "application/zip"), (".tar.gz", "application/gzip"),
                                                  (".whl.metadata", "text/plain; charset=utf-8")])
def test_head_and_the_download_agree_on_content_type_and_caching(
    corpus: Corpus, suffix, content_type
) -> None:
    """HEAD is answered by Envelope, GET by Envelope or (S3) the presigned URL: same headers."""
    data = _get(corpus, f"/{ORG}/simple/billing/", Accept="application/vnd.pypi.simple.v1+json").json()
    entry = next(f for f in data["files"] if f["filename"].endswith(suffix.removesuffix(".metadata")))
    path = f"/{ORG}/simple/billing/{entry['url']}" + (".metadata" if suffix.endswith(".metadata") else "")
    head = requests.head(corpus.server.base_url + path, auth=("__token__", corpus.read_token), timeout=30)
    response = requests.get(corpus.server.base_url + path, auth=("__token__", corpus.read_token), timeout=30)
    assert response.status_code == head.status_code == 200
    for headers in (head.headers, response.headers):
        assert (headers["Content-Type"], headers["Cache-Control"]) == (content_type, IMMUTABLE)


def test_redirects_never_outlive_the_token(corpus: Corpus, backend) -> None:
    soon = (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat()
    token = corpus.server.token(ORG, "--expires", soon)
    data = _get(corpus, f"/{ORG}/simple/billing/", token, Accept="application/vnd.pypi.simple.v1+json").json()
    response = _get(corpus, f"/{ORG}/simple/billing/{data['files'][0]['url']}", token)
    if backend.name == "sqlite-file":
        assert response.status_code == 200  # local files are served directly
        return
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    valid_until = signed_at + timedelta(seconds=int(query["X-Amz-Expires"][0]))
    assert valid_until <= datetime.fromisoformat(soon)


def test_index_pages_revalidate_with_etag(corpus: Corpus, tmp_path: Path) -> None:
    first = _get(corpus, f"/{ORG}/simple/billing/")
    etag = first.headers["ETag"]
    assert _get(corpus, f"/{ORG}/simple/billing/", **{"If-None-Match": etag}).status_code == 304
    json_etag = _get(corpus, f"/{ORG}/simple/billing/",
                     Accept="application/vnd.pypi.simple.v1+json").headers["ETag"]
    assert json_etag != etag
    new = make_wheel(tmp_path, "billing", "2.1.0")
    twine_upload(corpus.server.client_env, corpus.server.base_url, ORG, corpus.upload_token, [new])
    assert _get(corpus, f"/{ORG}/simple/billing/", **{"If-None-Match": etag}).status_code == 200


def test_non_normalized_name_redirects(corpus: Corpus) -> None:
    response = _get(corpus, f"/{ORG}/simple/Auth.Lib/")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"/{ORG}/simple/auth-lib/")


def test_yanked_release_is_skipped_by_pip(corpus: Corpus, tmp_path: Path) -> None:
    server = corpus.server
    wheels = [make_wheel(tmp_path, "yankme", v) for v in ("1.0.0", "1.1.0")]
    twine_upload(server.client_env, server.base_url, ORG, corpus.upload_token, wheels)
    server.cli("yank", "--org", ORG, "yankme==1.1.0", "--reason", "broken build")
    url = index_url(server.base_url, ORG, corpus.read_token)
    pip(server.client_env, "install", "--target", str(tmp_path / "t"), "--index-url", url, "yankme")
    assert installed_version(tmp_path / "t", "yankme") == "1.0.0"
    data = _get(corpus, f"/{ORG}/simple/yankme/", Accept="application/vnd.pypi.simple.v1+json").json()
    assert [f["yanked"] for f in data["files"]] == [False, "broken build"]
    html = _get(corpus, f"/{ORG}/simple/yankme/").text
    assert 'data-yanked="broken build"' in html
    server.cli("unyank", "--org", ORG, "yankme==1.1.0")
    pip(server.client_env, "install", "--target", str(tmp_path / "u"), "--index-url", url, "yankme")
    assert installed_version(tmp_path / "u", "yankme") == "1.1.0"


def test_duplicate_uploads_follow_pypis_rules(corpus: Corpus, tmp_path: Path) -> None:
    server = corpus.server
    original = corpus.files["billing-1.0.0"]
    again = twine_upload(server.client_env, server.base_url, ORG, corpus.upload_token, [original])
    assert again.returncode == 0
    clash = make_wheel(tmp_path, "billing", "1.0.0", summary="different bytes")
    assert clash.name == original.name and clash.read_bytes() != original.read_bytes()
    refused = twine_upload(server.client_env, server.base_url, ORG, corpus.upload_token, [clash], check=False)
    assert refused.returncode != 0 and "File already exists" in refused.stdout + refused.stderr
    # twine 7 allows --skip-existing only against pypi.org; older twines (and
    # other tools) skip on exactly this: 400 with "already exist" in the reason.
    raw = requests.post(f"{server.base_url}/{ORG}/legacy/", auth=("__token__", corpus.upload_token),
                        data={":action": "file_upload", "protocol_version": "1"},
                        files={"content": (clash.name, clash.read_bytes())}, timeout=30)
    assert raw.status_code == 400 and raw.reason.startswith("File already exists")
    served = _get(corpus, f"/{ORG}/simple/billing/", Accept="application/vnd.pypi.simple.v1+json").json()
    entry = next(f for f in served["files"] if f["filename"] == original.name)
    assert entry["hashes"]["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()


def test_read_token_and_restricted_upload_token_cannot_upload_elsewhere(corpus: Corpus, tmp_path: Path) -> None:
    server = corpus.server
    wheel = make_wheel(tmp_path, "billing", "1.9.0")
    read_only = twine_upload(server.client_env, server.base_url, ORG, corpus.read_token, [wheel], check=False)
    assert read_only.returncode != 0 and "403" in read_only.stdout + read_only.stderr
    limited = server.token(ORG, "--scope", "upload", "--project", "billing>=3")
    refused = twine_upload(server.client_env, server.base_url, ORG, limited, [wheel], check=False)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "billing>=3" in out
    allowed = make_wheel(tmp_path, "billing", "3.0.0")
    twine_upload(server.client_env, server.base_url, ORG, limited, [allowed])


def test_user_token_is_capped_by_the_users_role(corpus: Corpus, tmp_path: Path) -> None:
    server = corpus.server
    server.cli("user", "create", "rita", "--email", "rita@example.com", "--org", f"{ORG}:maintainer")
    token = server.token(ORG, "--scope", "upload", "--user", "rita")
    server.cli("org", "add-member", ORG, "rita", "--role", "reader")  # the token outlives the demotion
    refused = server.cli("token", "create", "--org", ORG, "--scope", "upload", "--user", "rita", check=False)
    assert refused.returncode == 1 and "rita's role in" in refused.stderr and "could never upload" in refused.stderr
    wheel = make_wheel(tmp_path, "rita-lib", "1.0.0")
    refused = twine_upload(server.client_env, server.base_url, ORG, token, [wheel], check=False)
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    assert _get(corpus, f"/{ORG}/simple/", token).status_code == 200


def test_web_user_password_works_for_the_index(corpus: Corpus) -> None:
    server = corpus.server
    server.cli("user", "create", "mia", "--email", "mia@example.com", "--org", f"{ORG}:maintainer",
               "--password-stdin", input="correct horse battery\n")
    ok = requests.get(f"{server.base_url}/{ORG}/simple/", auth=("mia", "correct horse battery"), timeout=30)
    assert ok.status_code == 200 and "billing" in ok.text
    bad = requests.get(f"{server.base_url}/{ORG}/simple/", auth=("mia", "wrong password"), timeout=30)
    assert bad.status_code == 401


def test_real_pypi_distributions_import_and_install(corpus: Corpus, real_dists, tmp_path: Path) -> None:
    server = corpus.server
    result = server.cli("import", "--org", ORG, *map(str, real_dists))
    assert "failed 0" in result.stderr
    again = server.cli("import", "--org", ORG, *map(str, real_dists))
    assert f"already present {len(real_dists)}" in again.stderr
    url = index_url(server.base_url, ORG, corpus.read_token)
    wheels = [p for p in real_dists if p.name.endswith(".whl")]
    names = sorted({p.name.split("-")[0] for p in wheels})
    pip(server.client_env, "install", "--no-deps", "--only-binary=:all:", "--target",
        str(tmp_path / "t"), "--index-url", url, *names)
    installed = {p.name.split("-")[0].lower() for p in (tmp_path / "t").glob("*.dist-info")}
    assert installed == {n.lower() for n in names}


def test_basic_auth_header_with_colon_in_password_is_parsed(corpus: Corpus) -> None:
    header = base64.b64encode(f"__token__:{corpus.read_token}".encode()).decode()
    response = requests.get(f"{corpus.server.base_url}/{ORG}/simple/",
                            headers={"Authorization": f"Basic {header}"}, timeout=30)
    assert response.status_code == 200
