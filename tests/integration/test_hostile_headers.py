"""Hostile request headers and the headers every response carries, through
a real `envelope serve`.

A byte that is not UTF-8 in the Authorization header is sent raw on a
socket (requests would refuse or re-encode it): the answer is 401 with a
challenge, never a 500. Every response, errors and downloads included,
says X-Content-Type-Options: nosniff.
"""
from __future__ import annotations

import base64
import hashlib
import socket

import pytest
import requests

from tests.builders import make_wheel
from tests.integration.clients import twine_upload

ORG = "acme"
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def published(server, tmp_path_factory) -> dict[str, str]:
    """An organization with one wheel; its read token and the wheel's URL."""
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload")
    wheel = make_wheel(tmp_path_factory.mktemp("dists"), "billing", "1.0")
    twine_upload(server.client_env, server.base_url, ORG, upload, [wheel])
    token = server.token(ORG)
    page = requests.get(server.url(f"/{ORG}/simple/billing/"), auth=("__token__", token),
                        headers={"Accept": JSON}, timeout=30)  # fmt: skip
    page.raise_for_status()
    file_path = page.json()["files"][0]["url"].replace("../../", f"/{ORG}/", 1)
    return {"token": token, "file": server.url(file_path), "path": file_path}


def raw_request(server, method: str, path: str, authorization: bytes) -> tuple[int, dict[str, str]]:
    """Send one request with `authorization` as raw header bytes; the status and headers."""
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nConnection: close\r\n"
        "Content-Length: 0\r\n"
    ).encode() + b"Authorization: " + authorization + b"\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), {name.lower(): value for name, value in headers.items()}


NOT_UTF8 = {
    "raw byte in Basic": b"Basic \xff\xfe",
    "raw byte inside base64": b"Basic X19\xe9b2tlbl9fOmVudmxf",
    "base64 of latin-1": b"Basic " + base64.b64encode(b"alic\xe9:p\xe4ss"),
    "raw byte in Bearer": b"Bearer envl_\xff\xfe",
}


@pytest.mark.parametrize("authorization", NOT_UTF8.values(), ids=NOT_UTF8.keys())
@pytest.mark.parametrize(
    "method, path",
    [("GET", f"/{ORG}/simple/"), ("GET", f"/{ORG}/simple/billing/"), ("GET", "FILE"), ("POST", f"/{ORG}/legacy/"),
     ("GET", f"/api/v1/orgs/{ORG}/projects")],
    ids=["index", "project page", "file", "upload", "api"],
)  # fmt: skip
def test_authorization_that_is_not_utf8_answers_401(server, published, method, path, authorization) -> None:
    if path == "FILE":
        path = published["path"]
    status, headers = raw_request(server, method, path, authorization)
    assert status == 401
    if path.startswith("/api/"):
        assert headers["www-authenticate"] == 'Bearer realm="envelope"'  # no browser password dialog on the API
    else:
        assert headers["www-authenticate"] == 'Basic realm="envelope"'
    assert requests.get(server.url("/healthz"), timeout=30).status_code == 200


def nosniff(response: requests.Response) -> bool:
    return response.headers.get("X-Content-Type-Options") == "nosniff"


def test_every_kind_of_response_says_nosniff(server, published) -> None:
    auth = ("__token__", published["token"])

    def get(path: str, **kwargs) -> requests.Response:
        return requests.get(server.url(path), timeout=30, allow_redirects=False, **kwargs)

    responses = {
        "index html": get(f"/{ORG}/simple/", auth=auth),
        "index json": get(f"/{ORG}/simple/billing/", auth=auth, headers={"Accept": JSON}),
        "file download": requests.get(published["file"], auth=auth, timeout=30, allow_redirects=False),
        "api": get(f"/api/v1/orgs/{ORG}/projects", headers={"Authorization": f"Bearer {published['token']}"}),
        "api 404": get("/api/v1/nothing-here"),
        "401": get(f"/{ORG}/simple/"),
        "404": get(f"/{ORG}/simple/no-such-project/", auth=auth),
        "page 404": get("/no/such/page"),
        "redirect": get(f"/{ORG}/simple", auth=auth),
        "health": get("/healthz"),
        "upload refusal": requests.post(server.upload_url(ORG), auth=auth, timeout=30),
    }
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses["file download"] in (200, 302) and statuses["401"] == 401 and statuses["404"] == 404
    assert statuses["api"] == 200 and statuses["index json"] == 200 and statuses["upload refusal"] in (400, 403)
    assert {name for name, response in responses.items() if not nosniff(response)} == set()


def test_a_429_says_nosniff_too(server, published) -> None:
    """A distinct address (none other in this module fails a sign-in from it) runs out of attempts."""
    for n in range(40):
        response = requests.get(server.url(f"/{ORG}/simple/"), auth=("__token__", f"envl_bad-{n}"), timeout=30)
        if response.status_code == 429:
            break
    assert response.status_code == 429 and nosniff(response)


def test_a_download_says_nosniff_and_keeps_its_bytes(server, published) -> None:
    """Served by Envelope (local files) or redirected to storage (S3): either
    way Envelope's own answer carries the header, and the bytes are the wheel's."""
    auth = ("__token__", published["token"])
    response = requests.get(published["file"], auth=auth, timeout=30, allow_redirects=False)
    assert response.status_code in (200, 302) and nosniff(response)
    if response.status_code == 302:
        response = requests.get(response.headers["Location"], timeout=30)
    content = response.content
    assert hashlib.sha256(content).hexdigest() in published["file"]
