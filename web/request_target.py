"""The request target in absolute form (`GET http://host/path HTTP/1.1`),
reduced to the path the app routes on.

RFC 9112 §3.2.2: a server must accept the absolute form, which proxy
clients send. uWSGI passes it through as PATH_INFO ("http://host/path"),
where gunicorn parsed it, so every such request would be a 404. The target
as sent stays in REQUEST_URI for the access log (which drops its userinfo);
the Host header is left as it came, and is still checked against the
trusted hosts.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

_SCHEMES = ("http://", "https://")


def origin_path(path_info: str) -> str:
    """The path part of an absolute-form target; any other path as it is."""
    if not path_info[:8].lower().startswith(_SCHEMES):
        return path_info
    authority_and_path = path_info.split("://", 1)[1]
    slash = authority_and_path.find("/")
    return "/" if slash < 0 else authority_and_path[slash:]


class OriginForm:
    """WSGI middleware: PATH_INFO always starts at the path."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["PATH_INFO"] = origin_path(environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


def install(app) -> None:
    """Put the reduction in front of everything that routes (the thin path, Flask)."""
    app.wsgi_app = OriginForm(app.wsgi_app)
