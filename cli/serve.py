"""`envelope serve`: the web server (gunicorn) and a Celery worker running beat, supervised.

The children are started with the command lines of cli/processes.py,
which the Procfile and docker-compose run too (`envelope process NAME`), so
the laptop setup and production differ only in where those commands run.
Housekeeping (stale upload spools) runs on beat, as everywhere else. A child
that dies is restarted (with back-off); Ctrl-C or SIGTERM stops them all.

The supervisor runs for as long as the index does, so it is kept lean: the
`envelope serve` command checks the port and migrates (click, SQLAlchemy,
Alembic, the models: about 50 MB), then execs `python -m cli.serve`, a
fresh interpreter with the same pid that imports only this module and
envelope.config (about 10 MB).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from cli.processes import commands
from envelope.config import WILDCARD_HOSTS, Settings, served_environ
from envelope.data_dir import restrict_new_files_to_owner
from envelope.errors import EnvelopeError
from envelope.parent_death import die_with_parent

POLL = 0.5  # seconds between supervision checks
MAX_BACKOFF = 30.0  # seconds
STOP_GRACE = 10.0  # seconds before SIGKILL


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    backoff: float = 1.0
    restart_at: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        # Own session: a terminal's Ctrl-C reaches only `serve`, which then
        # stops each child once, in order. Celery given SIGINT by the
        # terminal and SIGTERM by us at once respawns its pool and hangs.
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent
        )
        self.started_at = time.monotonic()


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something else listens on, with a sentence, before
    migrating and starting anything (a web server that fails to bind would
    only be restarted, again and again, by the supervisor)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As servers do: connections of a previous run in TIME_WAIT do not
        # count, a listening socket does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise EnvelopeError(
                f"Cannot listen on {host}:{port} ({exc.strerror}); stop what uses it or pick another "
                "port (make serve PORT=9000, envelope serve --port 9000)."
            ) from None


def exec_supervisor(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Become the lean supervisor (same pid, so signals and `serve`'s children
    stay where callers expect them), with the settings this process settled on."""
    argv = [sys.executable, "-m", "cli.serve", "--host", host, "--port", str(port), "--workers", str(workers)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, served_environ(settings))


def serve_forever(settings: Settings, *, host: str, port: int, workers: int) -> None:
    env = served_environ(settings)
    children = [
        Child(name, argv, env) for name, argv in commands(settings, host=host, port=port, workers=workers).items()
    ]
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.start()
    print(f"Envelope serving on {settings.base_url}/ (listening on {host}:{port}, data in {settings.data_dir})",
          flush=True)
    if host.strip("[]") in WILDCARD_HOSTS:
        print(f"Links in mail and webhook URLs use {settings.base_url}: set ENVELOPE_BASE_URL if people "
              "reach this machine by another name.", flush=True)
    try:
        while not stopping:
            time.sleep(POLL)
            if stopping:  # the signal arrived during the sleep: do not restart anything
                break
            for child in children:
                _supervise(child)
    finally:
        _stop_all(children)


def _supervise(child: Child) -> None:
    now = time.monotonic()
    if child.process is not None and child.process.poll() is None:
        if now - child.started_at > 60:
            child.backoff = 1.0  # it has been healthy a while: forget earlier crashes
        return
    if child.process is not None:
        code = child.process.returncode
        print(f"envelope serve: {child.name} exited with {code}; restarting in {child.backoff:.0f}s",
              file=sys.stderr, flush=True)
        child.process = None
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, MAX_BACKOFF)
    if now >= child.restart_at:
        child.start()


def _stop_all(children: list[Child]) -> None:
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    """`python -m cli.serve`: what `envelope serve` execs once the port is free
    and the schema is up to date (its environment carries the settings)."""
    parser = argparse.ArgumentParser(prog="envelope serve")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--workers", required=True, type=int)
    args = parser.parse_args()
    restrict_new_files_to_owner()
    serve_forever(Settings.from_env(), host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
