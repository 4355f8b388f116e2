"""A loopback pass-through proxy that records every request's method and path.

Put in front of Envelope (with ENVELOPE_BASE_URL set to the proxy's address,
as a real deployment behind a reverse proxy would), it shows which URLs a
client fetched: e.g. that pip-compile read hashes from the JSON API instead
of downloading distributions. It binds its port at construction, before the
server it fronts exists; `upstream_port` is set once that server runs.
"""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class RecordingProxy:
    def __init__(self) -> None:
        self.upstream_port: int | None = None
        self.seen: list[tuple[str, str]] = []
        self.answers: list[tuple[str, int, str | None]] = []  # (path, status, Content-Encoding) as sent
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def _forward(self, method: str) -> None:
                with proxy._lock:
                    proxy.seen.append((method, self.path))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                assert proxy.upstream_port is not None, "RecordingProxy.upstream_port is not set"
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    upstream.request(method, self.path, headers=headers)
                    response = upstream.getresponse()
                    body = response.read()
                    with proxy._lock:
                        proxy.answers.append((self.path, response.status, response.getheader("Content-Encoding")))
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(body)
                finally:
                    upstream.close()

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self, method: str = "GET") -> list[str]:
        with self._lock:
            return [path for m, path in self.seen if m == method]

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()
            self.answers.clear()

    def __enter__(self) -> "RecordingProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
