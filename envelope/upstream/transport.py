"""The upstream proxy's HTTP transport: a requests session per fetch whose
every connection goes to an address envelope/upstream/network.py permitted,
and a watchdog for the fetch's total deadline (the why is in network.py).

Apart from the policy so that requests and urllib3 (about 4 MB) load only
when an organization's upstream is first fetched from: envelope/upstream/
client.py imports this module on use."""
from __future__ import annotations

import contextvars
import socket
import threading
from typing import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from envelope.upstream.network import AddressPolicy

CONNECT_TIMEOUT = 3.0  # seconds to establish one TCP connection
MAX_REDIRECTS = 5


_current: contextvars.ContextVar[UpstreamFetch | None] = contextvars.ContextVar("upstream_fetch", default=None)


class UpstreamFetch:
    """One upstream operation (a page, or a file): a requests session whose
    every connection is vetted by `policy`, and a watchdog for `deadline`.

        with UpstreamFetch(policy, deadline=10) as fetch:
            fetch.session.get(url, timeout=fetch.timeout)

    The session lives for this fetch only: no connection vetted for one
    fetch is reused by another, and none outlives it."""

    def __init__(self, policy: AddressPolicy, *, deadline: float, user_agent: str) -> None:
        self.policy = policy
        self.deadline = deadline
        self.timeout = (min(CONNECT_TIMEOUT, deadline), deadline)  # (connect, each read)
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []  # dups of this fetch's sockets, for the watchdog
        self._done = False
        self._timer = threading.Timer(deadline, self._expire)
        self._timer.daemon = True
        self.session = requests.Session()
        self.session.trust_env = False  # no HTTP(S)_PROXY: the vetted address must be the one reached
        self.session.max_redirects = MAX_REDIRECTS
        self.session.headers["User-Agent"] = user_agent
        adapter = _VettedAdapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __enter__(self) -> UpstreamFetch:
        self._token = _current.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        try:
            self.session.close()
        finally:
            for sock in self._sockets:
                sock.close()
            _current.reset(self._token)

    def check(self) -> None:
        """Raise if the deadline passed: a socket shut down by the watchdog
        may look like a complete (close-delimited) body."""
        if self.expired:
            raise requests.Timeout(f"the upstream fetch took longer than {self.deadline} s")

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # unblocks a recv in the fetching thread
                except OSError:
                    pass

    def connect(self, host: str, port: int, timeout: float | None,
                options: Iterable[tuple[int, int, int | bytes]] | None) -> socket.socket:
        """A socket connected to a permitted address of `host`, the address that was checked."""
        last_error: OSError | None = None
        for family, sockaddr in self.policy.resolve(host, port):
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout if isinstance(timeout, (int, float)) else CONNECT_TIMEOUT)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            with self._lock:
                # A dup shares the connection (shutdown reaches both) but not the
                # descriptor: TLS wrapping moves the original's, and closing ours
                # at the end can never close a reused descriptor number.
                self._sockets.append(sock.dup())
                expired = self.expired
            if expired:
                sock.close()
                raise socket.timeout("the upstream fetch deadline passed")
            return sock
        raise last_error or OSError(f"{host} has no address to connect to")


def _new_conn(conn: HTTPConnection) -> socket.socket:
    fetch = _current.get()
    if fetch is None:  # fail closed: only UpstreamFetch may open upstream connections
        raise NewConnectionError(conn, "upstream connection outside an UpstreamFetch")
    try:
        return fetch.connect(conn.host, conn.port, conn.timeout, conn.socket_options)
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc


class _VettedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _new_conn(self)


class _VettedHTTPSConnection(HTTPSConnection):
    # Only the TCP connection changes: TLS still verifies the certificate and
    # sends SNI for the host name in the URL, and Host stays that name.
    def _new_conn(self) -> socket.socket:
        return _new_conn(self)


class _VettedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _VettedHTTPConnection


class _VettedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _VettedHTTPSConnection


class _VettedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _VettedHTTPPool, "https": _VettedHTTPSPool}
