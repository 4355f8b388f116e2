"""A loopback proxy that makes every client speak PEP 503 only.

pip and uv ask for PEP 691 JSON first; to prove they also work from the HTML
form, this proxy forwards requests to Envelope with `Accept: text/html` and
passes everything else (credentials included: it is on the same host) through.
"""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "accept"}


class HtmlOnlyProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.accepts_seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def _forward(self, method: str) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Accept"] = "text/html"
                proxy.accepts_seen.append(self.headers.get("Accept", ""))
                upstream = http.client.HTTPConnection(upstream_host, upstream_port, timeout=60)
                try:
                    upstream.request(method, self.path, headers=headers)
                    response = upstream.getresponse()
                    body = response.read()
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

    def __enter__(self) -> "HtmlOnlyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
