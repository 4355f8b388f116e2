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
SERVE_WEB_WORKERS = 2  # about 193 MB PSS for make serve after light use, a third more req/s than one (bench/README.md)
WEB_THREADS = 4  # threads per web worker (2 x 4 beat 2 x 8 here: bench/README.md); a slow request holds one
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
            # gunicorn, not granian: granian was faster here (bench/README.md)
            # but sends every status with its standard reason phrase, and
            # Envelope's refusals live in the reason phrase twine and pip print
            # ("400 File already exists", "403 …"). The access log is
            # web/access_log.py's WSGI middleware (web/wsgi.py); gunicorn logs
            # no access lines of its own.
            # --reuse-port: a listening socket per worker, so the kernel spreads
            # connections evenly; with one shared socket, one worker can take
            # every keep-alive connection and leave the other core idle.
            # --preload: the app is imported once, before the workers fork,
            # so they share its pages; no connection is opened at import, so
            # none is shared across the fork.
            python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--reuse-port", "--preload",
            "--workers", str(workers), "--worker-class", "gthread", "--threads", str(WEB_THREADS),
            "--graceful-timeout", "10", "--no-control-socket", "web.wsgi:app",
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
