"""Tag -> release -> Envelope, end to end: a signed webhook (or the poll)
makes a real Celery worker ingest a release from the fake GitHub, and pip
installs the result. Runs on both brokers: the embedded SQLite one (with
SQLite + files) and Redis (with PostgreSQL + S3)."""
from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import func, select

from envelope.db import Database
from envelope.models import AuditEvent
from tests.builders import make_sdist_raw, make_wheel
from tests.fake_github import FakeGitHub, release_event_payload, webhook_body, webhook_headers
from tests.integration.clients import index_url, installed_version, pip

ORG = "acme"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
TAGS = ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp311-cp311-win_amd64", "py3-none-any")


@pytest.fixture(scope="module")
def fake_github(backend):
    """One fake GitHub per backend: repositories are created afresh for each."""
    with FakeGitHub() as fake:
        yield fake
        fake.assert_no_auth_leaks()


@pytest.fixture(scope="module")
def server_env(backend, fake_github, request) -> dict[str, str]:
    env = {
        "ENVELOPE_GITHUB_API_URL": fake_github.api_url,
        "ENVELOPE_SYNC_FOLLOWUPS": "1,2,3,4",
        "ENVELOPE_RECONCILE_INTERVAL": "1",
    }
    if backend.name == "postgres-s3":
        env["CELERY_BROKER_URL"] = request.getfixturevalue("redis_server").url
    return env


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    server.cli("org", "create", ORG)
    return {"read": server.token(ORG, "--scope", "read")}


def connect(server, full_name: str, *args: str) -> str:
    out = server.cli("repo", "add", "--org", ORG, full_name, *args).stdout
    assert f"Webhook URL: " in out and "/hooks/github" in out
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Webhook secret: "))


def deliver(server, fake, full_name: str, release, secret: str, *, delivery: str, action="published",
            event="release") -> requests.Response:
    body = webhook_body(release_event_payload(fake, full_name, release, action=action))
    return requests.post(server.url("/hooks/github"), data=body,
                         headers=webhook_headers(event, delivery, secret, body), timeout=30)


def wait_for_files(server, token: str, project: str, count: int, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    files: list[dict] = []
    while time.monotonic() < deadline:
        response = requests.get(server.url(f"/{ORG}/simple/{project}/"), auth=("__token__", token),
                                headers=JSON, timeout=30)
        files = response.json()["files"] if response.status_code == 200 else []
        if len(files) >= count:
            return files
        time.sleep(0.3)
    raise AssertionError(f"{project}: {len(files)} of {count} files after {timeout}s\n{server.log_text()[-4000:]}")


def runs(server, full_name: str) -> list[dict]:
    return json.loads(server.cli("repo", "status", full_name, "--json", "--runs", "50").stdout)


def publish_events(server, filename: str) -> int:
    url = server.env.get("DATABASE_URL") or f"sqlite:///{server.data_dir / 'envelope.db'}"
    db = Database(url)
    try:
        with db.read() as session:
            return session.scalar(
                select(func.count()).select_from(AuditEvent)
                .where(AuditEvent.action == "file.publish", AuditEvent.subject == filename)
            )
    finally:
        db.dispose()


def sync_events(server, full_name: str) -> list[AuditEvent]:
    url = server.env.get("DATABASE_URL") or f"sqlite:///{server.data_dir / 'envelope.db'}"
    db = Database(url)
    try:
        with db.read() as session:
            return list(session.scalars(
                select(AuditEvent).where(AuditEvent.action == "repo.sync", AuditEvent.subject == full_name)
                .order_by(AuditEvent.id)
            ))
    finally:
        db.dispose()


def release_with_wheels(fake, tmp_path: Path, full_name: str, project: str, version: str) -> tuple[dict, list[Path]]:
    release = fake.add_release(full_name, f"v{version}")
    dists = [make_wheel(tmp_path, project, version, tags=tag) for tag in TAGS]
    dists.append(make_sdist_raw(tmp_path, project, version))
    for dist in dists:
        fake.add_asset(full_name, release, dist.name, dist.read_bytes())
    return release, dists


def test_signed_webhook_to_pip_install(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "billing", private=True, token="ghp_private_token")
    secret = connect(server, repo.full_name, "--github-token", "ghp_private_token", "--project", "billing")
    release, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "billing", "1.0.0")
    fake_github.add_asset(repo.full_name, release, "checksums.txt", b"sha256 sums\n")
    fake_github.add_asset(repo.full_name, release, "intruder-1.0.0-py3-none-any.whl",
                          make_wheel(tmp_path, "intruder", "1.0.0").read_bytes())
    response = deliver(server, fake_github, repo.full_name, release, secret, delivery="d-billing-1")
    assert response.status_code == 202
    files = wait_for_files(server, tokens["read"], "billing", len(dists))
    assert sorted(f["filename"] for f in files) == sorted(d.name for d in dists)
    pip(server.client_env, "install", "--target", str(tmp_path / "t"),
        "--index-url", index_url(server.base_url, ORG, tokens["read"]), "billing==1.0.0")
    assert installed_version(tmp_path / "t", "billing") == "1.0.0"
    first = [r for r in runs(server, repo.full_name) if r["trigger"] == "webhook"][0]
    outcomes = {a["name"]: (a["outcome"], a["reason"]) for a in first["assets"]}
    assert outcomes["checksums.txt"][0] == "ignored"
    assert outcomes["intruder-1.0.0-py3-none-any.whl"][0] == "refused"
    assert "may not upload intruder" in outcomes["intruder-1.0.0-py3-none-any.whl"][1]
    assert requests.get(server.url(f"/{ORG}/simple/intruder/"), auth=("__token__", tokens["read"]),
                        timeout=30).status_code == 404
    downloads = fake_github.matching("/releases/assets/", host="api")
    assert downloads and all(r.header("Authorization") == "Bearer ghp_private_token" for r in downloads)
    fake_github.assert_no_auth_leaks()


def test_assets_attached_after_the_webhook_arrive_through_followups(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "late")
    secret = connect(server, repo.full_name)
    release = fake_github.add_release(repo.full_name, "v2.0.0")
    assert deliver(server, fake_github, repo.full_name, release, secret, delivery="d-late").status_code == 202
    time.sleep(1.5)  # the first run sees no assets: CI is still building
    wheel = make_wheel(tmp_path, "late-lib", "2.0.0")
    fake_github.add_asset(repo.full_name, release, wheel.name, wheel.read_bytes())
    (entry,) = wait_for_files(server, tokens["read"], "late-lib", 1)
    assert entry["filename"] == wheel.name
    triggers = [r["trigger"] for r in runs(server, repo.full_name)]
    assert "followup" in triggers and "webhook" in triggers


def test_replayed_and_forged_deliveries_change_nothing(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "replay")
    secret = connect(server, repo.full_name)
    release, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "replay-lib", "1.0.0")
    assert deliver(server, fake_github, repo.full_name, release, secret, delivery="d-r").status_code == 202
    wait_for_files(server, tokens["read"], "replay-lib", len(dists))
    before = len(runs(server, repo.full_name))
    again = deliver(server, fake_github, repo.full_name, release, secret, delivery="d-r")
    assert again.status_code == 200 and "Already received" in again.json()["message"]
    forged = deliver(server, fake_github, repo.full_name, release, "wrong-secret", delivery="d-forged")
    assert forged.status_code == 403
    unknown = fake_github.add_repo("acme", "not-connected")
    stranger = deliver(server, fake_github, unknown.full_name, fake_github.add_release(unknown.full_name, "v1"),
                       secret, delivery="d-stranger")
    assert stranger.status_code == 403 and stranger.text == forged.text
    body = webhook_body(release_event_payload(fake_github, repo.full_name, release))
    unsigned = {k: v for k, v in webhook_headers("release", "d-unsigned", secret, body).items()
                if k != "X-Hub-Signature-256"}
    assert requests.post(server.url("/hooks/github"), data=body, headers=unsigned, timeout=30).status_code == 401
    ping = deliver(server, fake_github, repo.full_name, release, secret, delivery="d-ping", event="ping")
    assert ping.status_code == 200
    time.sleep(1)
    assert len(runs(server, repo.full_name)) <= before + 1  # at most a follow-up of the first run
    assert all(publish_events(server, d.name) == 1 for d in dists)


def test_corrupt_asset_fails_alone_and_github_errors_are_retried(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "flaky")
    secret = connect(server, repo.full_name)
    release, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "flaky-lib", "1.0.0")
    fake_github.corrupt_download(dists[0].name, mode="garble", times=100)
    fake_github.fail_next(f"/releases/{release['id']}", status=500, times=2)
    assert deliver(server, fake_github, repo.full_name, release, secret, delivery="d-flaky").status_code == 202
    files = wait_for_files(server, tokens["read"], "flaky-lib", len(dists) - 1)
    assert dists[0].name not in {f["filename"] for f in files}
    webhook_run = [r for r in runs(server, repo.full_name) if r["trigger"] == "webhook"][0]
    assert webhook_run["status"] == "succeeded" and webhook_run["failed"] == 1
    (failed,) = [a for a in webhook_run["assets"] if a["outcome"] == "failed"]
    assert failed["name"] == dists[0].name and failed["reason"]
    assert fake_github.count(f"/releases/{release['id']}", host="api") >= 3  # two 500s, then 200


def test_rate_limit_exhaustion_waits_for_the_reset(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "limited")
    secret = connect(server, repo.full_name)
    release, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "limited-lib", "1.0.0")
    fake_github.set_rate_limit(0, time.time() + 4)
    assert deliver(server, fake_github, repo.full_name, release, secret, delivery="d-limit").status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        errors = [r["error"] or "" for r in runs(server, repo.full_name)]
        if any("rate limit" in e for e in errors):
            break
        time.sleep(0.3)
    else:
        raise AssertionError("no run recorded the rate limit")
    wait_for_files(server, tokens["read"], "limited-lib", len(dists))


RETRY_AFTER = 5  # seconds the fake's secondary rate limit asks for


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_waits_retry_after_before_the_run_retries(
    server, tokens, fake_github, tmp_path, status
) -> None:
    repo = fake_github.add_repo("acme", f"secondary-{status}")
    secret = connect(server, repo.full_name)
    project = f"secondary{status}-lib"
    release, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, project, "1.0.0")
    release_path = f"/releases/{release['id']}"
    fake_github.secondary_rate_limit(release_path, status=status, retry_after=RETRY_AFTER)
    assert deliver(server, fake_github, repo.full_name, release, secret,
                   delivery=f"d-secondary-{status}").status_code == 202
    wait_for_files(server, tokens["read"], project, len(dists))
    limited, retried = [r for r in fake_github.requests if r.host == "api" and release_path in r.path][:2]
    assert retried.at - limited.at >= RETRY_AFTER
    # Retried by re-queuing the run (a second attempt), not by a worker asleep inside the request.
    webhook_run = [r for r in runs(server, repo.full_name) if r["trigger"] == "webhook"][0]
    assert webhook_run["status"] == "succeeded" and webhook_run["attempts"] == 2


def _celery_worker_tree(serve_pid: int) -> list[int]:
    def children(pid: int) -> list[tuple[int, str]]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                if parent == pid:
                    found.append((int(entry), cmd))
        return found

    workers = [pid for pid, cmd in children(serve_pid) if "worker" in cmd.split() and "celery" in cmd]
    return workers + [pid for worker in workers for pid, _ in children(worker)]


def test_worker_killed_mid_ingest_publishes_everything_exactly_once(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "crash")
    secret = connect(server, repo.full_name)
    release, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "crash-lib", "1.0.0")
    fake_github.slow_download(dists[2].name, 6, times=1)
    assert deliver(server, fake_github, repo.full_name, release, secret, delivery="d-crash").status_code == 202
    fake_github.wait_for_request(dists[2].name, host="objects", timeout=60)
    for pid in _celery_worker_tree(server.pid):
        os.kill(pid, signal.SIGKILL)
    files = wait_for_files(server, tokens["read"], "crash-lib", len(dists))
    assert sorted(f["filename"] for f in files) == sorted(d.name for d in dists)
    assert [publish_events(server, d.name) for d in dists] == [1] * len(dists)
    assert "worker exited" in server.log_text()


def test_cli_sync_says_plainly_when_it_continues_in_the_background(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "offline")
    connect(server, repo.full_name)
    _, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "offline-lib", "0.1.0")
    # This terminal cannot reach GitHub (the worker, configured apart, can).
    result = server.cli("sync", repo.full_name, env={"ENVELOPE_GITHUB_API_URL": "http://127.0.0.1:9"}, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Sync of {repo.full_name} did not finish here: Cannot reach GitHub for releases of {repo.full_name}: "
        "nothing listens at that address and port. It continues in the background (the worker retries with "
        f"back-off); `envelope repo status {repo.full_name}` shows how it goes."
    )
    assert "HTTPConnectionPool" not in result.stderr and "Traceback" not in result.stderr
    files = wait_for_files(server, tokens["read"], "offline-lib", len(dists))  # the worker's retry did it
    assert sorted(f["filename"] for f in files) == sorted(d.name for d in dists)


def test_cli_sync_ingests_in_the_foreground(server, tokens, fake_github, tmp_path) -> None:
    repo = fake_github.add_repo("acme", "manual")
    connect(server, repo.full_name)
    _, dists = release_with_wheels(fake_github, tmp_path, repo.full_name, "manual-lib", "0.1.0")
    draft = fake_github.add_release(repo.full_name, "v0.2.0", draft=True)
    fake_github.add_asset(repo.full_name, draft, "manual_lib-0.2.0-py3-none-any.whl",
                          make_wheel(tmp_path, "manual-lib", "0.2.0").read_bytes())
    result = server.cli("sync", repo.full_name)
    assert f"{len(dists)} published" in result.stderr
    files = wait_for_files(server, tokens["read"], "manual-lib", len(dists), timeout=5)
    assert all("0.2.0" not in f["filename"] for f in files)
    again = server.cli("sync", repo.full_name)
    assert "0 published" in again.stderr and f"{len(dists)} already present" in again.stderr
    # The web's sync (here its API, as a maintainer's token) writes the same repo.sync event.
    server.cli("user", "create", "mia", "--email", "mia@example.com", "--org", f"{ORG}:maintainer")
    token = server.token(ORG, "--scope", "upload", "--user", "mia", "--name", "sync")
    queued = requests.post(server.url(f"/api/v1/orgs/{ORG}/repositories/{repo.full_name}/sync"),
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert queued.status_code == 202, queued.text
    cli_runs = sorted(r["id"] for r in runs(server, repo.full_name) if r["id"] != queued.json()["run_id"])
    events = sync_events(server, repo.full_name)
    assert [(e.action, e.subject, e.detail) for e in events] == [
        ("repo.sync", repo.full_name, {"run": run}) for run in [*cli_runs, queued.json()["run_id"]]
    ]
    assert [e.actor.split(" ")[0] for e in events] == ["cli", "cli", "token"]


@pytest.fixture
def foreign_host():
    """Another origin than the configured GitHub API: answers with `body`, records each request's headers."""
    seen: list[dict[str, str]] = []
    body: dict[str, bytes] = {"data": b""}

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append({name.lower(): value for name, value in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body["data"])))
            self.end_headers()
            self.wfile.write(body["data"])

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_address[1]}", seen=seen, body=body)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_token_never_goes_to_an_asset_url_on_another_origin(server, tokens, fake_github, foreign_host,
                                                           tmp_path) -> None:
    repo = fake_github.add_repo("acme", "elsewhere", private=True, token="ghp_elsewhere_token")
    connect(server, repo.full_name, "--github-token", "ghp_elsewhere_token")
    release = fake_github.add_release(repo.full_name, "v1.0.0")
    home = make_wheel(tmp_path, "elsewhere", "1.0.0")
    home_asset = fake_github.add_asset(repo.full_name, release, home.name, home.read_bytes())
    away = make_wheel(tmp_path, "elsewhere", "1.0.0", tags=TAGS[1])
    foreign_host.body["data"] = away.read_bytes()
    away_asset = fake_github.add_asset(repo.full_name, release, away.name, away.read_bytes())
    # The API names another server as the asset's URL: the same machine, another port.
    fake_github.set_asset(repo.full_name, away_asset, url=f"{foreign_host.url}/assets/{away_asset['id']}")
    server.cli("sync", repo.full_name)
    assert foreign_host.seen, "the asset on the other origin was never fetched"
    assert all("authorization" not in headers for headers in foreign_host.seen), foreign_host.seen
    # A normal asset on the API's origin still downloads, with the token.
    files = wait_for_files(server, tokens["read"], "elsewhere", 1)
    assert home.name in {f["filename"] for f in files}
    downloads = [r for r in fake_github.matching("/repos/acme/elsewhere/releases/assets/", host="api")
                 if r.path.split("?")[0].endswith(f"/{home_asset['id']}")]
    assert downloads and all(r.header("Authorization") == "Bearer ghp_elsewhere_token" for r in downloads)
