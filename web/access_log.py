"""The access log, one line per request, with no credential in it: WSGI
middleware, so it is the same whichever server runs the app.

A line keeps what a person reading the log needs (time, remote address,
method, target, status, body bytes, duration, user agent), in the format
gunicorn's access log had:

    [06/Dec/2026:21:11:02 +0000] 127.0.0.1 "GET /acme/simple/ HTTP/1.1" 200 1234 3ms "pip/24.0 ..."

The target and the user agent pass through envelope.log_redaction: query
values of secret names, one-time link secrets, URL userinfo and anything
shaped like an Envelope token are masked. Headers that carry credentials
(Authorization, Cookie) are never read, nor the Basic-auth user name.
"""
from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from envelope.log_redaction import redact_target, redact_text

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class AccessLog:
    """Wraps a WSGI app; writes a line to `stream` when each response is closed."""

    def __init__(self, app: WSGIApp, stream: IO[str]) -> None:
        self.app = app
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.time()
        status: list[str] = ["500"]

        def recording(status_line: str, headers: list, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, recording)
        except BaseException:
            self.write(line(environ, "500", 0, started))
            raise
        return _Logged(body, lambda sent: self.write(line(environ, status[0], sent, started)))

    def write(self, text: str) -> None:
        with self.lock:
            self.stream.write(text)
            self.stream.flush()


class _Logged:
    """The response body, counted as the server sends it; logged once, on close()."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body = body
        self.done = done
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)


def line(environ: dict, status: str, sent: int, started: float) -> str:
    """One access-log line, every request-controlled part redacted."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        query = environ.get("QUERY_STRING", "")
        target = environ.get("PATH_INFO", "") + ("?" + query if query else "")
    request = " ".join((environ.get("REQUEST_METHOD", "-"), redact_target(target),
                        environ.get("SERVER_PROTOCOL", "-")))
    when = _timestamp(int(started))
    duration = int((time.time() - started) * 1000)
    agent = environ.get("HTTP_USER_AGENT", "-")
    return redact_text(f'{when} {environ.get("REMOTE_ADDR", "-")} "{request}" {status} {sent} {duration}ms '
                       f'"{agent}"') + "\n"


@functools.lru_cache(maxsize=4)
def _timestamp(second: int) -> str:
    """A second's time as the log shows it; formatted once, not on each of its requests."""
    return time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))


def install(app, target: str | None) -> None:
    """Log `app`'s requests to `target` ("-": stdout, else a file appended to; None: no log)."""
    if target is None:
        return
    stream = sys.stdout if target == "-" else open(target, "a", encoding="utf-8")  # noqa: SIM115 - the process's life
    app.wsgi_app = AccessLog(app.wsgi_app, stream)
