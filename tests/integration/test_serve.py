"""`envelope serve` runs web, and a worker with beat on one of its threads,
on the embedded broker, and restarts a child that dies (beat included)."""
from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

from tests.services import Backend

HEARTBEAT_EVERY = 1  # seconds: ENVELOPE_RECONCILE_INTERVAL for this module's server


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ENVELOPE_RECONCILE_INTERVAL": str(HEARTBEAT_EVERY), "ENVELOPE_HOUSEKEEPING_INTERVAL": "1"}


@pytest.fixture(scope="module")
def backend() -> Backend:
    """Supervision does not depend on the database or storage: embedded defaults only."""
    return Backend("sqlite-file")


def _worker_seen(server) -> datetime | None:
    seen = requests.get(f"{server.base_url}/healthz", timeout=10).json()["worker_last_seen"]
    return datetime.fromisoformat(seen) if seen else None


def _wait_for_heartbeat_after(server, moment: datetime | None, timeout: float = 60) -> datetime:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _worker_seen(server)
        if seen is not None and (moment is None or seen > moment):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"no worker heartbeat after {moment} within {timeout}s:\n{server.log_text()[-3000:]}")


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parent = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if parent == pid:
            found.append((int(entry), cmdline))
    return found


def test_embedded_worker_and_beat_run_tasks(server) -> None:
    first = _wait_for_heartbeat_after(server, None)
    assert _wait_for_heartbeat_after(server, first) > first


def test_serve_runs_the_command_lines_of_the_processes_module(server) -> None:
    """web is the Procfile's too (test_deployment.py); the worker is its worker with beat embedded."""
    from envelope.config import Settings
    from cli.processes import SERVE_WEB_WORKERS, commands

    settings = Settings.from_env({**server.env, "ENVELOPE_DATA_DIR": str(server.data_dir)})
    expected = commands(settings, host=server.host, port=server.port, workers=SERVE_WEB_WORKERS)
    running = sorted(cmd.strip() for _pid, cmd in _children(server.pid))
    assert running == sorted(" ".join(argv) for argv in expected.values())


def test_beat_removes_abandoned_upload_spools(server) -> None:
    """Housekeeping is a periodic task on beat (not a step of `serve`'s start)."""
    tmp = server.data_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    stale, fresh = tmp / "upload-abandoned.part", tmp / "upload-in-progress.part"
    for path in (stale, fresh):
        path.write_bytes(b"partial upload")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    deadline = time.monotonic() + 60
    while stale.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not stale.exists(), server.log_text()[-3000:]
    assert fresh.exists()
    assert "envelope.housekeeping" in server.log_text()


def test_retention_policies_run_on_beat(server, tmp_path: Path) -> None:
    """The lifecycle task (retention, then the collector) is on beat's schedule,
    at the housekeeping interval; a policy set by the CLI takes effect alone."""
    from sqlalchemy import select

    from envelope.db import Database
    from envelope.models import DeletedFilename, File
    from tests.unit.archives import wheel_bytes, wheel_filename

    for version in ("1.0", "1.1a1", "1.1a2"):
        (tmp_path / wheel_filename("aged", version)).write_bytes(wheel_bytes("aged", version))
    server.cli("org", "create", "beaten")
    server.cli("import", "--org", "beaten", str(tmp_path))
    server.cli("retention", "set", "--org", "beaten", "--keep-prereleases", "0")
    db = Database(f"sqlite:///{server.data_dir / 'envelope.db'}")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.read() as session:
                left = sorted(session.scalars(select(File.filename).where(File.filename.startswith("aged-"))))
            if len(left) == 1:
                break
            time.sleep(0.3)
        assert left == [wheel_filename("aged", "1.0")], server.log_text()[-3000:]
        with db.read() as session:
            burned = set(session.scalars(select(DeletedFilename.filename)))
        assert {wheel_filename("aged", v) for v in ("1.1a1", "1.1a2")} <= burned
    finally:
        db.dispose()
    assert "envelope.lifecycle" in server.log_text()


def test_upstream_cache_budgets_are_applied_on_beat(server) -> None:
    """The same lifecycle task evicts cached upstream files past their
    organization's budget (here: none may stay) and audits it."""
    from sqlalchemy import select

    from envelope.db import Database
    from envelope.models import AuditEvent, Organization, UpstreamObject

    server.cli("org", "create", "budgeted")
    server.cli("org", "proxy", "budgeted", "--enable", "--cache-max-size", "0")
    db = Database(f"sqlite:///{server.data_dir / 'envelope.db'}")
    try:
        with db.write() as session:
            org = session.scalar(select(Organization).where(Organization.name == "budgeted"))
            session.add(UpstreamObject(organization_id=org.id, sha256="e" * 64, filename="gone-1.0-py3-none-any.whl",
                                       storage_key="upstream/ee/ee/" + "e" * 64 + "/gone-1.0-py3-none-any.whl",
                                       size=123))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.read() as session:
                left = session.scalars(select(UpstreamObject).where(UpstreamObject.organization_id == org.id)).all()
            if not left:
                break
            time.sleep(0.3)
        assert left == [], server.log_text()[-3000:]
        with db.read() as session:
            event = session.scalar(select(AuditEvent).where(AuditEvent.action == "proxy.cache_evict",
                                                            AuditEvent.organization_id == org.id))
        assert event.detail["bytes"] == 123 and event.actor == "system"
    finally:
        db.dispose()


def test_a_killed_worker_is_restarted(server) -> None:
    (worker_pid,) = [pid for pid, cmd in _children(server.pid) if "worker" in cmd.split() and "celery" in cmd]
    os.kill(worker_pid, signal.SIGKILL)
    killed_at = _wait_for_heartbeat_after(server, None)
    time.sleep(HEARTBEAT_EVERY * 2)
    after = _wait_for_heartbeat_after(server, killed_at, timeout=90)
    assert after > killed_at
    restarted = [pid for pid, cmd in _children(server.pid) if "worker" in cmd.split() and "celery" in cmd]
    assert restarted and restarted[0] != worker_pid
    assert "worker exited" in server.log_text()


def test_a_killed_web_server_takes_its_workers_along_and_is_restarted(server) -> None:
    """A gunicorn master killed outright: its workers must not keep the
    listening socket and serve unsupervised (they exit when their master is
    gone), and serve starts a new web server."""
    (web_pid,) = [pid for pid, cmd in _children(server.pid) if "gunicorn" in cmd]
    old_workers = [pid for pid, _cmd in _children(web_pid)]
    assert old_workers
    os.kill(web_pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        restarted = [pid for pid, cmd in _children(server.pid) if "gunicorn" in cmd and pid != web_pid]
        if restarted and _children(restarted[0]) and not any(os.path.exists(f"/proc/{w}") for w in old_workers):
            break
        time.sleep(0.3)
    assert not any(os.path.exists(f"/proc/{w}") for w in old_workers), "an old web worker outlived its server"
    assert restarted and _children(restarted[0]), server.log_text()[-3000:]
    deadline = time.monotonic() + 30
    while not _answers(f"{server.base_url}/healthz"):
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        time.sleep(0.3)
    assert "web exited with -9" in server.log_text()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=10).status_code == 200
    except requests.ConnectionError:
        return False  # still starting


def test_a_worker_whose_beat_dies_exits_so_that_serve_restarts_both(tmp_path) -> None:
    """Beat runs on a thread of serve's worker: if it ends (here: its schedule
    file cannot be created), the worker exits with BEAT_DIED rather than run on
    without a beat; serve restarts any child that exits (the test above)."""
    import subprocess

    from cli.processes import command
    from envelope.config import Settings
    from tests.services import scrubbed_environ
    from worker.embedded_beat import BEAT_DIED

    env = {**scrubbed_environ(), "ENVELOPE_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    argv = command("worker", Settings.from_env(env), embedded_beat=True)
    at = argv.index("--schedule-filename") + 1
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    argv[at] = str(blocker / Path(argv[at]).name)  # beat's schedule below a regular file
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == BEAT_DIED, result.stderr[-3000:]
    assert "beat stopped while the worker runs" in result.stderr


def test_a_second_serve_on_the_same_port_refuses_with_a_sentence(server, tmp_path) -> None:
    """A port in use is refused with a sentence, before anything starts, and the first server keeps serving."""
    from tests.services import EnvelopeServer

    second = EnvelopeServer(tmp_path / "second", port=server.port)
    result = second.cli("serve", "--host", server.host, "--port", str(server.port), check=False, timeout=60)
    assert result.returncode == 1
    assert f"Cannot listen on {server.host}:{server.port}" in result.stderr and "pick another port" in result.stderr
    assert "Traceback" not in result.stderr
    assert requests.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


def test_the_access_log_has_a_line_per_request_and_no_credentials(server) -> None:
    """`serve` prints one line per request to its console (ENVELOPE_ACCESS_LOG
    defaults to `-`); tokens and passwords sent every way a client might never appear."""
    import base64
    import http.client
    import uuid

    org = "logs-" + uuid.uuid4().hex[:8]
    server.cli("org", "create", org)
    token = server.token(org, "--scope", "read")
    password = "pw-" + uuid.uuid4().hex
    username = "logwatcher" + uuid.uuid4().hex[:6]
    server.cli("user", "create", username, "--email", f"{uuid.uuid4().hex}@example.com",
               "--org", f"{org}:reader", "--password-stdin", input=password + "\n")
    marker = "envelope-log-test/" + uuid.uuid4().hex[:8]
    agent = {"User-Agent": marker}
    host = f"{server.host}:{server.port}"
    basic = requests.get(server.url(f"/{org}/simple/"), auth=("__token__", token), headers=agent, timeout=10)
    assert basic.status_code == 200
    person = requests.get(server.url(f"/{org}/simple/?from=password"), auth=(username, password), headers=agent,
                          timeout=10)
    assert person.status_code == 200
    userinfo = requests.get(f"http://__token__:{token}@{host}/{org}/simple/?from=userinfo", headers=agent,
                            timeout=10)
    assert userinfo.status_code == 200
    by_query = requests.get(server.url(f"/{org}/simple/?token={token}&password={password}&page=2"),
                            headers=agent, timeout=10)
    assert by_query.status_code == 401
    in_path = requests.get(server.url(f"/{org}/{token}/simple/"), headers=agent, timeout=10)
    reset = requests.get(server.url(f"/reset-password/{password}"), headers=agent, timeout=10)
    # Absolute form with userinfo in the request line, as a misconfigured proxy client would send it.
    raw = http.client.HTTPConnection(server.host, server.port, timeout=10)
    raw.putrequest("GET", f"http://__token__:{token}@{host}/{org}/simple/?from=absolute", skip_host=True)
    raw.putheader("Host", host)
    raw.putheader("User-Agent", marker)
    raw.putheader("Authorization", "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode())
    raw.endheaders()
    raw.getresponse().read()
    raw.close()

    expected = [
        f'"GET /{org}/simple/ HTTP/1.1" 200',
        f'"GET /{org}/simple/?from=password HTTP/1.1" 200',
        f'"GET /{org}/simple/?from=userinfo HTTP/1.1" 200',
        f'"GET /{org}/simple/?token=***&password=***&page=2 HTTP/1.1" 401',
        f'"GET /{org}/envl_***/simple/ HTTP/1.1" {in_path.status_code}',
        f'"GET /reset-password/*** HTTP/1.1" {reset.status_code}',
        # An absolute-form target is logged as sent, less its userinfo.
        f'"GET http://{host}/{org}/simple/?from=absolute HTTP/1.1" 200',
    ]
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in server.log_text().splitlines() if marker in line]
        if all(any(e in line for line in lines) for e in expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for e in expected:
        assert any(e in line for line in lines), (e, lines)
    first = next(line for line in lines if expected[0] in line)
    # [time] remote "request line" status bytes duration "user agent"
    assert first.startswith("[") and f" {server.host} " in first and first.endswith(f'"{marker}"')
    assert re.search(r'" 200 \d+ \d+ms "', first), first
    log = server.log_text()
    secret_forms = [token, token[len("envl_"):], password, base64.b64encode(f"__token__:{token}".encode()).decode(),
                    base64.b64encode(f"{username}:{password}".encode()).decode()]
    for secret in secret_forms:
        assert secret not in log
