"""Which addresses the upstream proxy may reach, checked after resolution,
and how long one fetch may take."""
from __future__ import annotations

import ipaddress
import socket
import threading

import pytest
import requests

from envelope.config import Settings
from envelope.upstream.network import AddressPolicy, AddressRefused, is_public
from envelope.upstream.transport import UpstreamFetch

DENY_ALL = AddressPolicy()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("151.101.0.223", True),  # pypi.org
        ("2a04:4e42::223", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),  # global-scope multicast is still multicast
        ("::ffff:127.0.0.1", False),
        ("::ffff:151.101.0.223", False),  # IPv4-mapped: refused whatever it maps to
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 around 10.0.0.1
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "0177.0.0.1", "::1",
                                  "169.254.169.254", "localhost"])
def test_every_spelling_of_a_private_host_is_refused_after_resolution(host: str) -> None:
    with pytest.raises(AddressRefused):
        DENY_ALL.resolve(host, 80)
    with pytest.raises(AddressRefused):
        DENY_ALL.check_host(host)


def test_allowed_networks_open_exactly_those_addresses() -> None:
    settings = Settings.from_env({"ENVELOPE_DATA_DIR": "/tmp/envelope-unit",
                                  "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "127.0.0.2, 10.0.0.0/8 ,::1"})
    policy = AddressPolicy(settings.upstream_allow_addresses)
    assert policy.resolve("127.0.0.2", 80) == [(socket.AF_INET, ("127.0.0.2", 80))]
    assert policy.permits(ipaddress.ip_address("10.9.8.7"))
    assert policy.permits(ipaddress.ip_address("::1"))
    with pytest.raises(AddressRefused):
        policy.resolve("127.0.0.1", 80)
    assert not policy.permits(ipaddress.ip_address("169.254.169.254"))


def test_a_host_that_does_not_resolve_passes_the_configuration_check() -> None:
    DENY_ALL.check_host("no-such-host.invalid")  # the fetch-time check decides


def test_a_bad_allow_list_names_the_variable() -> None:
    with pytest.raises(ValueError, match="ENVELOPE_UPSTREAM_ALLOW_ADDRESSES: 'intranet'"):
        Settings.from_env({"ENVELOPE_DATA_DIR": "/tmp/envelope-unit",
                           "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES": "10.0.0.0/8,intranet"})


@pytest.fixture
def dripping_server():
    """Answers headers, then one body byte every 0.2 s forever: each read is
    quick, only a total deadline ends it."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
            try:
                while not stop.wait(0.2):
                    conn.sendall(b"x")
            except OSError:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def test_a_fetch_ends_at_its_deadline_even_when_every_read_is_quick(dripping_server: int) -> None:
    policy = AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))
    with pytest.raises(requests.RequestException), \
            UpstreamFetch(policy, deadline=1, user_agent="test") as fetch:
        response = fetch.session.get(f"http://127.0.0.1:{dripping_server}/", timeout=fetch.timeout, stream=True)
        for _ in response.iter_content(1024):
            pass
        fetch.check()
    assert fetch.expired


def test_connections_outside_a_fetch_are_refused() -> None:
    policy = AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))
    fetch = UpstreamFetch(policy, deadline=1, user_agent="test")  # built but never entered
    with pytest.raises(requests.ConnectionError, match="outside an UpstreamFetch"):
        fetch.session.get("http://127.0.0.1:9/", timeout=1)
