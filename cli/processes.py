"""The one definition of Envelope's processes: web, worker and beat.

The Procfile, docker-compose.yml and the Dockerfile run `envelope process
NAME`, which execs one of these command lines. `envelope serve` starts the
web command line and the worker's with beat on one of its threads and a
threads pool (worker/embedded_beat.py): on one machine there is one worker
and one beat, and a beat process and pool processes would cost about 80 MB
PSS for nothing (bench/README.md). Either way, a process that dies is
restarted by whoever supervises it, and durable state in the database means
nothing it held is lost.
"""
from __future__ import annotations

import os
import sys
from typing import NoReturn

from envelope.config import Settings

NAMES = ("web", "worker", "beat")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_WEB_WORKERS = 2  # `envelope process web`; `envelope serve` runs SERVE_WEB_WORKERS
SERVE_WEB_WORKERS = 1  # one granian worker keeps make serve under 200 MB and outruns gunicorn's two
WEB_THREADS = 4  # threads per web worker that run the app
DEFAULT_WORKER_CONCURRENCY = 2


def command(
    name: str,
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = DEFAULT_WEB_WORKERS,
    concurrency: int = DEFAULT_WORKER_CONCURRENCY,
    embedded_beat: bool = False,
) -> list[str]:
    """The argv of one process (`name` is web, worker or beat); `embedded_beat`:
    the worker runs beat too, on a thread, as `envelope serve` wants it."""
    python = sys.executable
    if name == "web":
        return [
            # granian: a Rust HTTP server in front of the WSGI app. Against
            # gunicorn's gthread (2 workers x 8 threads) it served the index
            # pages about twice as fast with one worker, in less memory
            # (bench/README.md). Its Python side runs the app on WEB_THREADS
            # threads per worker: a slow request (a cold proxied page, a big
            # upload) holds one, the rest keep serving; more threads only
            # contend for the GIL. The access log is web/access_log.py's,
            # installed by web/wsgi.py, not the server's.
            python, "-m", "granian", "--interface", "wsgi", "--host", host.strip("[]"), "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(WEB_THREADS),
            "--workers-kill-timeout", "10", "--respawn-failed-workers", "--no-ws", "web.wsgi:app",
        ]
    if name == "worker" and embedded_beat:
        # `envelope serve`: one process. Tasks wait on GitHub, S3 and the
        # database, so threads do what prefork's processes did for a third of
        # the memory, and beat runs on a thread of this worker
        # (worker/embedded_beat.py: a beat that dies takes the worker down
        # with it, and `serve` restarts both).
        return [
            python, "-m", "celery", "-A", "worker.celery_app", "worker",
            "--loglevel", "INFO", "--pool", "threads", "--concurrency", str(concurrency),
            "--without-gossip", "--without-mingle",
            "--embedded-beat", "--schedule-filename", str(settings.data_dir / "celerybeat-schedule"),
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


def commands(settings: Settings, *, host: str, port: int, workers: int) -> dict[str, list[str]]:
    """The argv of each process `envelope serve` starts and supervises."""
    return {
        "web": command("web", settings, host=host, port=port, workers=workers),
        "worker": command("worker", settings, embedded_beat=True),
    }


def exec_process(argv: list[str]) -> NoReturn:
    """Become the process (its signals and exit status are the platform's to see)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
