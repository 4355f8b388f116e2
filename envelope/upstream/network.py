"""Where the upstream proxy may connect, and for how long.

An organization owner chooses the upstream URL, so unchecked the proxy is a
way into the instance's own network: Envelope's loopback ports, Redis, a
database on 10.0.0.0/8, the cloud metadata service at 169.254.169.254.
Every connection the proxy opens is therefore checked here AFTER DNS
resolution (so `0x7f000001`, `2130706433` and `127.1`, which the resolver
turns into 127.0.0.1, are caught like `127.0.0.1` itself) and made to the
very address that was checked: no second lookup that DNS rebinding could
answer differently. Each request and each redirect hop opens its connection
through `UpstreamFetch` (envelope/upstream/transport.py, apart so that
this policy loads without requests), so each is checked. Only public addresses pass,
plus those listed in ENVELOPE_UPSTREAM_ALLOW_ADDRESSES (an internal mirror).

A fetch also has a total deadline: a watchdog shuts its sockets down when it
passes, so an upstream that accepts and never answers, or answers one byte at
a time, holds a request for the deadline and no longer.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Union

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

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
