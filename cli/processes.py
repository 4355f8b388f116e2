"""The one definition of Envelope's processes: web, worker and beat.

`envelope serve` starts these command lines as its children; the Procfile,
docker-compose.yml and the Dockerfile run `envelope process NAME`, which
execs the same command line. So the laptop and production differ only in
who supervises the processes, never in how they are started.
"""
from __future__ import annotations

import os
import sys
from typing import NoReturn

from envelope.config import Settings

NAMES = ("web", "worker", "beat")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_WEB_WORKERS = 2
DEFAULT_WORKER_CONCURRENCY = 2
# gunicorn atoms: time, remote address, request line, status, body bytes,
# duration, user agent; web/access_log.py redacts them before formatting.
ACCESS_LOG_FORMAT = '%(t)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def command(
    name: str,
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = DEFAULT_WEB_WORKERS,
    concurrency: int = DEFAULT_WORKER_CONCURRENCY,
) -> list[str]:
    """The argv of one process (`name` is web, worker or beat)."""
    python = sys.executable
    if name == "web":
        return [
            # --reuse-port: a listening socket per worker, so the kernel spreads
            # connections evenly; with one shared socket, one worker can take
            # every keep-alive connection and leave the other core idle.
            python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--reuse-port",
            "--workers", str(workers), "--worker-class", "gthread", "--threads", "8",
            "--graceful-timeout", "10", "--no-control-socket", *_access_log(settings), "web.wsgi:app",
        ]
    if name == "worker":
        return [
            python, "-m", "celery", "-A", "worker.celery_app", "worker",
            "--loglevel", "INFO", "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
        ]
    if name == "beat":
        return [
            python, "-m", "celery", "-A", "worker.beat_app", "beat", "--loglevel", "INFO",
            "--schedule", str(settings.data_dir / "celerybeat-schedule"),
        ]
    raise ValueError(f"Unknown process {name!r}; expected one of {', '.join(NAMES)}.")


def _access_log(settings: Settings) -> list[str]:
    """gunicorn's access log options: one redacted line per request (web/access_log.py)."""
    if settings.access_log is None:
        return []
    return ["--access-logfile", settings.access_log, "--access-logformat", ACCESS_LOG_FORMAT,
            "--logger-class", "web.access_log.AccessLogger"]


def commands(settings: Settings, *, host: str, port: int, workers: int) -> dict[str, list[str]]:
    """Every process's argv, as `envelope serve` starts them."""
    return {name: command(name, settings, host=host, port=port, workers=workers) for name in NAMES}


def exec_process(argv: list[str]) -> NoReturn:
    """Become the process (its signals and exit status are the platform's to see)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
