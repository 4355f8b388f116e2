"""The two HTTP servers (the API host and the objects host) and their request handlers."""
from __future__ import annotations

import http.server
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from tests.fake_github.records import CHUNK, DOCS, LOOPBACK, Response, json_bytes

if TYPE_CHECKING:
    from tests.fake_github import FakeGitHub

__all__ = [
    "FakeGitHub",
    "FakeRepo",
    "RecordedRequest",
    "ping_payload",
    "release_event_payload",
    "sign_payload",
    "webhook_body",
    "webhook_headers",
]


class Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections and threads so stop() leaves nothing behind."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeGitHub, kind: str, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.fake = fake
        self.kind = kind
        self._track_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__((LOOPBACK, 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"fake-github-{self.kind}-conn",
            daemon=True,
        )
        with self._track_lock:
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            try:
                self.finish_request(request, client_address)
            except Exception as exc:  # never let a handler thread raise (pytest turns that into an error)
                if not isinstance(exc, (ConnectionError, TimeoutError, OSError)):
                    self.fake._record_error(f"{self.kind}: {exc!r}")
            finally:
                self.shutdown_request(request)
        finally:
            with self._track_lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:  # pragma: no cover - defensive
        pass

    def close_everything(self, timeout: float = 5.0) -> None:
        self.shutdown()
        self.server_close()
        with self._track_lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end by themselves
    # One buffered write per response and no Nagle: keep-alive clients (PyGithub, requests) would
    # otherwise wait out delayed ACKs (~40 ms) on every request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: Server
    server_name = "github.com"

    def version_string(self) -> str:
        return self.server_name

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > 0:
            return self.rfile.read(int(length))
        return b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 304 and "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD" and response.status != 304:
            self.wfile.write(response.body)
        self.wfile.flush()

    def _dispatch(self) -> None:
        raise NotImplementedError

    def _guarded(self) -> None:
        try:
            self._dispatch()
        except OSError:  # the client went away (or stop() cut the connection)
            self.close_connection = True
        except Exception as exc:
            self.server.fake._record_error(f"{self.server.kind} {self.command} {self.path}: {exc!r}")
            self.close_connection = True
            try:
                body = json_bytes({"message": "Server Error", "documentation_url": DOCS, "status": "500"})
                self._send(Response(500, [("Content-Type", "application/json; charset=utf-8")], body))
            except OSError:
                pass

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _guarded


class ApiHandler(Handler):
    server_name = "github.com"

    def _dispatch(self) -> None:
        fake = self.server.fake
        body = self._read_body()
        fake._record("api", self.command, self.path, dict(self.headers.items()))
        response = fake._api_response(self.command, self.path, self.headers, self.client_address[0], body)
        if response.webhook is not None:  # outside the fake's lock: the receiver may call back
            fake.deliver_app_webhook(*response.webhook)
        self._send(response)


class ObjectsHandler(Handler):
    server_name = "AmazonS3"

    def _dispatch(self) -> None:
        fake = self.server.fake
        self._read_body()
        fake._record("objects", self.command, self.path, dict(self.headers.items()))
        plan = fake._objects_response(self.command, self.path, self.headers)
        if plan.slow_seconds and plan.slow_before_headers:
            if not fake._sleep(plan.slow_seconds):
                self.close_connection = True
                return
        self.send_response(plan.status)
        for name, value in plan.headers:
            self.send_header(name, value)
        declared = len(plan.body) if plan.declared_length is None else plan.declared_length
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        if self.command == "HEAD" or not plan.body:
            self.wfile.flush()
            return
        body = memoryview(plan.body)
        if plan.slow_seconds and not plan.slow_before_headers:
            half = len(body) // 2
            self._write_chunks(body[:half])
            self.wfile.flush()
            if not fake._sleep(plan.slow_seconds):
                self.close_connection = True
                return
            body = body[half:]
        self._write_chunks(body)
        self.wfile.flush()
        if declared != len(plan.body):  # truncated on purpose: the client must see a short read
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if plan.filename is not None:
            fake._count_download(plan.filename)

    def _write_chunks(self, data: memoryview) -> None:
        for start in range(0, len(data), CHUNK):
            self.wfile.write(data[start : start + CHUNK])


# ============================================================================ the fake
