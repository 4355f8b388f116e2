"""What GitHub vouches for: a release asset's `digest` ("sha256:<hex>") is
checked against the downloaded bytes, and whether the release is immutable is
recorded on Envelope's release. Run through `envelope sync` (the same run the
worker does) against the fake GitHub, on both backends."""
from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from envelope.db import Database
from envelope.models import File, Release
from tests.builders import make_wheel
from tests.fake_github import FakeGitHub

ORG = "acme"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture(scope="module")
def fake_github(backend):
    with FakeGitHub() as fake:
        yield fake
        fake.assert_no_auth_leaks()


@pytest.fixture(scope="module")
def server_env(fake_github) -> dict[str, str]:
    return {"ENVELOPE_GITHUB_API_URL": fake_github.api_url}


@pytest.fixture(scope="module")
def read_token(server) -> str:
    server.cli("org", "create", ORG)
    return server.token(ORG, "--scope", "read")


def connected_release(server, fake, tmp_path, name: str, *, immutable: bool):
    repo = fake.add_repo("acme", name)
    server.cli("repo", "add", "--org", ORG, repo.full_name)
    release = fake.add_release(repo.full_name, "v1.0.0", immutable=immutable)
    wheel = make_wheel(tmp_path, name, "1.0.0")
    asset = fake.add_asset(repo.full_name, release, wheel.name, wheel.read_bytes())
    return repo, asset, wheel


def last_run(server, full_name: str) -> dict:
    return json.loads(server.cli("repo", "status", full_name, "--json").stdout)[0]


def filenames(server, token: str, project: str) -> set[str]:
    response = requests.get(server.url(f"/{ORG}/simple/{project}/"), auth=("__token__", token), headers=JSON,
                            timeout=30)
    return {f["filename"] for f in response.json()["files"]} if response.status_code == 200 else set()


def immutability(server, filename: str) -> bool | None:
    db = Database(server.env.get("DATABASE_URL") or f"sqlite:///{server.data_dir / 'envelope.db'}")
    try:
        with db.read() as session:
            return session.scalar(select(Release.github_immutable).join(File, File.release_id == Release.id)
                                  .where(File.filename == filename))
    finally:
        db.dispose()


def test_matching_digest_publishes_verified_and_records_an_immutable_release(
    server, read_token, fake_github, tmp_path
) -> None:
    repo, asset, wheel = connected_release(server, fake_github, tmp_path, "sealed", immutable=True)
    assert asset["digest"].startswith("sha256:")
    server.cli("sync", repo.full_name)
    (recorded,) = last_run(server, repo.full_name)["assets"]
    assert (recorded["outcome"], recorded["digest"]) == ("published", "verified")
    assert filenames(server, read_token, "sealed") == {wheel.name}
    assert immutability(server, wheel.name) is True
    api = requests.get(server.url(f"/api/v1/orgs/{ORG}/projects/sealed/releases/1.0.0"),
                       headers={"Authorization": f"Bearer {read_token}"}, timeout=30)
    assert api.status_code == 200 and api.json()["github_immutable"] is True, api.text


def test_mismatching_digest_is_refused_and_recorded(server, read_token, fake_github, tmp_path) -> None:
    repo, asset, wheel = connected_release(server, fake_github, tmp_path, "tampered", immutable=False)
    fake_github.set_asset(repo.full_name, asset, digest="sha256:" + "0" * 64)
    server.cli("sync", repo.full_name)  # the run succeeds; the asset in it failed
    run = last_run(server, repo.full_name)
    (recorded,) = run["assets"]
    assert (recorded["outcome"], recorded["digest"]) == ("failed", "mismatch")
    assert "sha256:" + "0" * 64 in recorded["reason"] and "not published" in recorded["reason"]
    assert run["failed"] == 1 and run["published"] == 0
    assert filenames(server, read_token, "tampered") == set()
    # The CLI's status names it too.
    assert "GitHub's digest of the asset is sha256:000" in server.cli("repo", "status", repo.full_name).stdout


def test_bytes_garbled_in_transit_fail_the_digest_check(server, read_token, fake_github, tmp_path) -> None:
    repo, asset, wheel = connected_release(server, fake_github, tmp_path, "garbled", immutable=False)
    fake_github.corrupt_download(wheel.name, mode="garble", times=1)
    server.cli("sync", repo.full_name)
    (recorded,) = last_run(server, repo.full_name)["assets"]
    assert (recorded["outcome"], recorded["digest"]) == ("failed", "mismatch")
    assert filenames(server, read_token, "garbled") == set()
    # The next sync downloads clean bytes and publishes them.
    server.cli("sync", repo.full_name)
    (recorded,) = last_run(server, repo.full_name)["assets"]
    assert (recorded["outcome"], recorded["digest"]) == ("published", "verified")


def test_missing_digest_is_accepted_as_unverified(server, read_token, fake_github, tmp_path) -> None:
    """Older GitHub Enterprise Servers give no digest: accepted, recorded as unverified."""
    repo, asset, wheel = connected_release(server, fake_github, tmp_path, "olderghes", immutable=False)
    fake_github.set_asset(repo.full_name, asset, digest=None)
    assert "digest" not in fake_github.asset_json(asset)
    server.cli("sync", repo.full_name)
    (recorded,) = last_run(server, repo.full_name)["assets"]
    assert (recorded["outcome"], recorded["digest"]) == ("published", "unverified")
    assert filenames(server, read_token, "olderghes") == {wheel.name}
    assert immutability(server, wheel.name) is False
    api = requests.get(server.url(f"/api/v1/orgs/{ORG}/projects/olderghes/releases/1.0.0"),
                       headers={"Authorization": f"Bearer {read_token}"}, timeout=30)
    assert api.json()["github_immutable"] is False
