"""HTTP/1.1 through the real `envelope serve`: a response of unknown
length, the audit export, arrives chunked on a connection that stays
usable; `Connection: close` is honoured; idle keep-alive connections hold
no worker thread.

uWSGI's --http11-socket, measured as the web server (bench/README.md),
failed all three: it frames no response of unknown length, ignores
`Connection: close` and gives each idle keep-alive connection a worker
thread until the socket times out (60 s), past these tests' 20 s timeouts.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import uuid

import pytest
import requests

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
TIMEOUT = 20  # seconds; an unframed answer would hold the connection for the server's 60


@pytest.fixture(scope="module")
def signed_in(server) -> tuple[str, str]:
    """An owner signed in to a new organization: (org, Cookie header)."""
    org = "framing-" + uuid.uuid4().hex[:8]
    name, password = "owner" + uuid.uuid4().hex[:6], "pw-" + uuid.uuid4().hex
    server.cli("org", "create", org)
    server.cli("user", "create", name, "--email", f"{name}@example.com", "--org", f"{org}:owner",
               "--password-stdin", input=password + "\n")
    server.token(org)  # something in the audit log
    browser = requests.Session()
    csrf = CSRF_INPUT.search(browser.get(server.url("/login"), timeout=TIMEOUT).text).group(1)
    answer = browser.post(server.url("/login"), data={"csrf_token": csrf, "login": name, "password": password},
                          timeout=TIMEOUT)
    assert answer.status_code == 200 and not answer.url.endswith("/login"), answer.text[:500]
    return org, "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def test_a_response_of_unknown_length_is_chunked_and_the_connection_kept(server, signed_in) -> None:
    org, cookie = signed_in
    conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    conn.request("GET", f"/{org}/audit/export.json", headers={"Cookie": cookie})
    export = conn.getresponse()
    assert export.status == 200
    assert export.getheader("Transfer-Encoding") == "chunked" and export.getheader("Content-Length") is None
    events = json.loads(export.read())
    assert any(event["action"] == "token.create" for event in events), events
    first_socket = conn.sock
    conn.request("GET", "/healthz")  # the same connection, still framed correctly
    health = conn.getresponse()
    assert health.status == 200 and json.loads(health.read())["status"] == "ok"
    assert conn.sock is first_socket, "the connection was not kept alive"
    conn.close()


def test_connection_close_is_honoured(server) -> None:
    request = (f"GET /healthz HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):  # ends only when the server closes
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == "ok"


def test_idle_keep_alive_connections_do_not_hold_the_workers(server) -> None:
    """More idle keep-alive connections than the web server has threads
    (2 workers x 4): a browser's and a pip's pools. A new client is answered
    at once."""
    idle = []
    for _ in range(12):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        idle.append(conn)  # kept open, sending nothing
    try:
        fresh = requests.get(server.url("/healthz"), timeout=TIMEOUT)
        assert fresh.status_code == 200
        for conn in idle:  # and every idle connection is still usable
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
    finally:
        for conn in idle:
            conn.close()
