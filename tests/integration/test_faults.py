"""Faults lose nothing and publish nothing twice: storage outages, races, crashes."""
from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.builders import make_wheel
from tests.integration.clients import PartialUpload
from tests.fake_github import FakeGitHub
from tests.integration.test_github_sync import connect, release_with_wheels, runs, wait_for_files

ORG = "acme"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _upload(server, token: str, path: Path, filename: str | None = None) -> requests.Response:
    return requests.post(
        f"{server.base_url}/{ORG}/legacy/",
        auth=("__token__", token),
        data={":action": "file_upload", "protocol_version": "1"},
        files={"content": (filename or path.name, path.read_bytes())},
        timeout=120,
    )


def _files(server, token: str, project: str) -> list[dict]:
    response = requests.get(f"{server.base_url}/{ORG}/simple/{project}/", auth=("__token__", token),
                            headers=JSON, timeout=30)
    return response.json()["files"] if response.status_code == 200 else []


def _setup(server) -> str:
    server.cli("org", "create", ORG)
    return server.token(ORG, "--scope", "upload")


def test_storage_outage_answers_503_and_publishes_nothing(envelope_server, moto_s3, tmp_path: Path) -> None:
    server = envelope_server("postgres-s3")
    token = _setup(server)
    bucket = server.env["ENVELOPE_STORAGE_URL"].split("/")[2]
    client = moto_s3.client()
    client.delete_bucket(Bucket=bucket)
    wheel = make_wheel(tmp_path, "outage", "1.0.0")
    response = _upload(server, token, wheel)
    assert response.status_code == 503 and "storage" in response.reason.lower()
    assert _files(server, token, "outage") == []
    client.create_bucket(Bucket=bucket)
    assert _upload(server, token, wheel).status_code == 200
    (entry,) = _files(server, token, "outage")
    download = requests.get(f"{server.base_url}/{ORG}/simple/outage/{entry['url']}",
                            auth=("__token__", token), timeout=30)
    assert download.content == wheel.read_bytes()


def test_racing_uploads_of_one_filename_publish_exactly_once(server, tmp_path: Path) -> None:
    token = _setup(server)
    variants = [make_wheel(tmp_path / str(i), "racer", "1.0.0", summary=f"variant {i}") for i in range(6)]
    assert len({hashlib.sha256(v.read_bytes()).hexdigest() for v in variants}) == 6
    barrier = threading.Barrier(len(variants))

    def upload(path: Path) -> requests.Response:
        barrier.wait()
        return _upload(server, token, path)

    with ThreadPoolExecutor(len(variants)) as pool:
        responses = list(pool.map(upload, variants))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 5, [(r.status_code, r.reason) for r in responses]
    assert all(r.reason.startswith("File already exists") for r in responses if r.status_code == 400)
    winner = variants[[r.status_code for r in responses].index(200)]
    (entry,) = _files(server, token, "racer")
    assert entry["hashes"]["sha256"] == hashlib.sha256(winner.read_bytes()).hexdigest()
    # the same bytes again, concurrently: all succeed, still one file
    with ThreadPoolExecutor(4) as pool:
        again = list(pool.map(lambda _: _upload(server, token, winner), range(4)))
    assert [r.status_code for r in again] == [200] * 4
    assert len(_files(server, token, "racer")) == 1


def test_server_killed_mid_upload_leaves_nothing_half_published(envelope_server, tmp_path: Path) -> None:
    server = envelope_server("sqlite-file")
    token = _setup(server)
    wheel = make_wheel(tmp_path, "crashy", "1.0.0", files={"crashy/blob.bin": b"\0" * (4 * 1024**2)})
    upload = PartialUpload(server.host, server.port, ORG, token, wheel, timeout=30)
    upload.send(len(upload.payload) // 2)
    time.sleep(0.5)
    server.kill()
    upload.close()
    server.start()
    assert _files(server, token, "crashy") == []
    assert _upload(server, token, wheel).status_code == 200
    (entry,) = _files(server, token, "crashy")
    assert entry["size"] == wheel.stat().st_size


def test_storage_outage_during_a_github_sync_is_retried_not_taken_for_done(
    envelope_server, moto_s3, tmp_path: Path
) -> None:
    """A storage failure is transient: the run retries later. Recording the
    assets as failed would let the run succeed and store the release's
    fingerprint, and the poll would then skip that release for good."""
    with FakeGitHub() as fake:
        server = envelope_server("postgres-s3", extra_env={
            "ENVELOPE_GITHUB_API_URL": fake.api_url, "ENVELOPE_POLL_INTERVAL": "2",
            "ENVELOPE_RECONCILE_INTERVAL": "1"})
        server.cli("org", "create", ORG)
        token = server.token(ORG, "--scope", "read")
        repo = fake.add_repo("acme", "stored")
        connect(server, repo.full_name)
        bucket = server.env["ENVELOPE_STORAGE_URL"].split("/")[2]
        client = moto_s3.client()
        client.delete_bucket(Bucket=bucket)
        try:
            _, dists = release_with_wheels(fake, tmp_path, repo.full_name, "stored-lib", "1.0.0")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                seen = runs(server, repo.full_name)
                texts = [r["error"] or "" for r in seen] + [a["reason"] or "" for r in seen for a in r["assets"]]
                if any("storage is unavailable" in t for t in texts):
                    break
                time.sleep(0.3)
            else:
                raise AssertionError(f"no run met the storage outage\n{server.log_text()[-4000:]}")
            assert [r["status"] for r in seen if r["status"] in ("succeeded", "failed")] == [], seen
            assert all(r["failed"] == 0 for r in seen), seen
        finally:
            client.create_bucket(Bucket=bucket)
        wait_for_files(server, token, "stored-lib", len(dists))
        deadline = time.monotonic() + 30
        while {r["status"] for r in runs(server, repo.full_name)} != {"succeeded"}:
            assert time.monotonic() < deadline, runs(server, repo.full_name)
            time.sleep(0.3)
        assert max(r["attempts"] for r in runs(server, repo.full_name)) >= 2  # retried, not re-polled
        fake.assert_no_auth_leaks()
