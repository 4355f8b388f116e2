"""A hand-written upstream index for the upstream proxy's tests: fixed
responses by path (HTML or JSON simple pages, distribution files), every
request remembered, so a test can tell when Envelope went to the upstream."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.builders import sha256_file


class Recorder(ThreadingHTTPServer):
    """Serves fixed responses by path and remembers each request's headers."""

    def __init__(self, routes: dict[str, tuple[str, bytes]]) -> None:
        self.routes = routes
        self.seen: list[tuple[str, dict[str, str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:  # noqa: N805
                self.seen.append((handler.path, dict(handler.headers)))
                content_type, body = self.routes.get(handler.path, ("text/plain", b""))
                handler.send_response(200 if handler.path in self.routes else 404)
                handler.send_header("Content-Type", content_type)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests_for(self, path: str) -> int:
        return sum(1 for seen, _ in self.seen if seen == path)


def html_index(name: str, wheels: list[Path]) -> Recorder:
    """One server holding a PEP 503 page for `name` listing `wheels` (with
    their sha256) and the wheels themselves under /f/."""
    host = Recorder({"/f/" + p.name: ("application/octet-stream", p.read_bytes()) for p in wheels})
    links = "".join(f'<a href="{host.base}/f/{p.name}#sha256={sha256_file(p)}">{p.name}</a>\n' for p in wheels)
    host.routes[f"/simple/{name}/"] = ("text/html", f"<html><body>{links}</body></html>".encode())
    return host
