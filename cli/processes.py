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
import stat
import sys
import sysconfig
import tempfile
import zlib
from pathlib import Path
from typing import NoReturn

from envelope.config import Settings
from envelope.errors import EnvelopeError

NAMES = ("web", "worker", "beat")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_WEB_WORKERS = 2  # `envelope process web`; `envelope serve` runs SERVE_WEB_WORKERS
SERVE_WEB_WORKERS = 2  # about 193 MB PSS for make serve after light use, a third more req/s than one (bench/README.md)
WEB_THREADS = 4  # threads per web worker (2 x 4 beat 2 x 8 here: bench/README.md); a slow request holds one
DEFAULT_WORKER_CONCURRENCY = 2
ROUTER_BUFFER = 256 * 1024  # bytes the HTTP router reads and writes at once (uWSGI's default: a 4 KB page)
MAX_SOCKET_DIR = 90  # bytes: the workers' socket path, web-PORT.sock in it, must fit in sun_path (108)


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
        return web_command(host, port, workers, web_socket_dir(settings))
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


def web_command(host: str, port: int, workers: int, socket_dir: Path) -> list[str]:
    """uWSGI (the pyuwsgi wheel) serving web.wsgi:app.

    Why uWSGI: its HTTP handling is C, so a request costs little more than
    the app's own work; on two cores it answered the index at 2-3x gunicorn
    gthread's req/s with a third of its p99 (bench/README.md). It sends the
    status line exactly as the app gives it, and Envelope's refusals live in
    the reason phrase that twine and pip print ("400 File already exists"):
    granian, faster still, cannot.

    Clients talk to uWSGI's HTTP router, an event loop in C (keep-alive;
    chunked framing for a response of unknown length, such as the audit
    export; `Connection: close` honoured), which hands requests to the
    workers over a Unix socket in a directory only this user can enter. Not
    --http11-socket, the workers speaking HTTP themselves, though faster
    here: each idle keep-alive connection holds a worker thread until the
    socket times out (eight idle connections, a browser's and a pip's, stop
    the index for a minute), it honours no `Connection: close` and frames no
    response of unknown length. The uwsgi protocol on the workers' socket
    sets the whole WSGI environ (REMOTE_ADDR included): hence no TCP port.
    The router's buffer holds a whole index page, so a page reaches the
    client in one write: the router sets no TCP_NODELAY, and a page written
    in 4 KB pieces waited for the client's delayed ACK (40 ms) each time.
    """
    bind = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
    workers_socket = str(socket_dir / f"web-{port}.sock")
    return [
        sys.executable, str(Path(sysconfig.get_path("scripts")) / "pyuwsgi"),  # this interpreter, its script
        "--http", bind, "--http-keepalive", "--http-auto-chunked", "--http-buffer-size", str(ROUTER_BUFFER),
        "--socket", workers_socket, "--http-to", workers_socket, "--chmod-socket=600", "--vacuum",
        "--master", "--processes", str(workers), "--threads", str(WEB_THREADS),
        # The app is imported once, in the master, before the workers fork
        # (not --lazy-apps), so they share its pages; nothing connects at import.
        "--module", "web.wsgi:app", "--need-app", "--single-interpreter", "--strict",
        "--die-on-term",  # SIGTERM stops (uWSGI's own default reloads); serve sends it
        "--no-orphans",  # workers exit when their master is gone
        "--reload-mercy", "10", "--worker-reload-mercy", "10",  # graceful stop bound, as serve's grace
        "--buffer-size", "65535",  # request headers up to 64 KB (uWSGI's default is 4 KB)
        "--socket-timeout", "60", "--http-timeout", "300",  # a stalled client; a slow answer (a cold upstream page)
        # The access log is web/access_log.py's WSGI middleware (credentials
        # redacted); a client that hangs up mid-download is not an error.
        "--disable-logging", "--ignore-sigpipe", "--ignore-write-errors", "--disable-write-exception",
    ]


def web_socket_dir(settings: Settings) -> Path:
    """Where the web server's workers listen: `run/` in the data dir, which
    only this user may enter. A Unix socket's path must fit in 108 bytes, so
    a deep data dir gets a directory of its own under the temporary
    directory instead, named for it (the same one at every start) and
    refused unless it is this user's alone."""
    directory = settings.data_dir / "run"
    if len(str(directory)) > MAX_SOCKET_DIR:
        digest = zlib.crc32(str(settings.data_dir).encode())  # a name, not a secret: ownership is checked
        directory = Path(tempfile.gettempdir()) / f"envelope-{os.getuid()}-{digest:08x}"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise EnvelopeError(f"{directory} is not a directory of this user's; remove it and start again.")
    directory.chmod(0o700)
    return directory


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
