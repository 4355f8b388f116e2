"""Where the upstream proxy may connect, and for how long.

An organization owner chooses the upstream URL, so unchecked the proxy is a
way into the instance's own network: Envelope's loopback ports, Redis, a
database on 10.0.0.0/8, the cloud metadata service at 169.254.169.254.
Every connection the proxy opens is therefore checked here AFTER DNS
resolution (so `0x7f000001`, `2130706433` and `127.1`, which the resolver
turns into 127.0.0.1, are caught like `127.0.0.1` itself) and made to the
very address that was checked: no second lookup that DNS rebinding could
answer differently. Each request and each redirect hop opens its connection
through `UpstreamFetch`, so each is checked. Only public addresses pass,
plus those listed in ENVELOPE_UPSTREAM_ALLOW_ADDRESSES (an internal mirror).

A fetch also has a total deadline: a watchdog shuts its sockets down when it
passes, so an upstream that accepts and never answers, or answers one byte at
a time, holds a request for the deadline and no longer.
"""
from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Iterable, Union

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

CONNECT_TIMEOUT = 3.0  # seconds to establish one TCP connection
MAX_REDIRECTS = 5
# IPv6 prefixes that carry an IPv4 address a gateway will reach for us.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class AddressRefused(OSError):
    """The upstream host resolves to an address the proxy may not reach.

    For logs and configuration messages only: a fetch turns it into the same
    "could not be reached" as any other failure."""


def is_public(address: Address) -> bool:
    """Whether `address` is on the public internet: not loopback, private,
    link-local, unique-local, multicast, unspecified, reserved or shared, and
    not an IPv6 spelling of an IPv4 address that is one of those."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return False  # ::ffff:127.0.0.1 reaches 127.0.0.1 on a dual-stack socket
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus the operator's allowed networks."""

    allowed: tuple[Network, ...] = ()

    def permits(self, address: Address) -> bool:
        return any(address in network for network in self.allowed) or is_public(address)

    def resolve(self, host: str, port: int) -> list[tuple[int, tuple]]:
        """(family, sockaddr) for each address of `host`, all of them permitted.

        Raises AddressRefused when any address is refused (a name that also
        resolves to a public address is no excuse), socket.gaierror when the
        name does not resolve."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        targets = []
        for family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if not self.permits(address):
                raise AddressRefused(f"{host} resolves to {address}, which the upstream proxy may not reach")
            targets.append((family, sockaddr))
        return targets

    def check_host(self, host: str) -> None:
        """Configuration-time check: AddressRefused if `host` resolves to a
        refused address. A name that does not resolve (now) passes: the
        check made on every fetch is the one that counts."""
        try:
            self.resolve(host, 443)
        except (socket.gaierror, UnicodeError):
            pass


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
