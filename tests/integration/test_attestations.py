"""PEP 740 end to end: real clients upload a real PyPI file with its real
attestation; Envelope verifies it, links the provenance from the simple
index and serves it at the integrity endpoint, behind the file's access
checks. Bad attestations are refused with 400 and publish nothing.

The file and its attestation are PyPI's (tests/builders.py
`download_real_attestations`), fetched once into .cache/pypi.
"""
from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.builders import ATTESTED_DIST, ATTESTED_PUBLISHER, make_wheel
from tests.integration.clients import BIN, run, twine_upload

JSON = "application/vnd.pypi.simple.v1+json"
INTEGRITY = "application/vnd.pypi.integrity.v1+json"
PROJECT = "pypi-attestations"


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    """Upload tokens of three organizations, and readers of the first."""
    for org in ("acme", "beta", "gamma"):
        server.cli("org", "create", org)
    return {
        "acme": server.token("acme", "--scope", "upload"),
        "beta": server.token("beta", "--scope", "upload"),
        "gamma": server.token("gamma", "--scope", "upload"),
        "acme-billing": server.token("acme", "--scope", "read", "--project", "billing"),
        "acme-reader": server.token("acme", "--scope", "read", "--project", PROJECT),
    }


def upload_dir(tmp_path: Path, real_attestations: dict[str, Path], attestation: Any = None,
               dist: Path | None = None) -> list[Path]:
    """A dist folder as CI leaves it: the distribution and, beside it,
    `<dist>.publish.attestation` (the name twine and uv look for)."""
    folder = tmp_path / "dist"
    folder.mkdir(parents=True)
    source = dist or real_attestations["dist"]
    target = folder / source.name
    shutil.copyfile(source, target)
    body = attestation if attestation is not None else json.loads(real_attestations["attestation"].read_text())
    attestation_file = folder / f"{source.name}.publish.attestation"
    attestation_file.write_text(json.dumps(body))
    return [target, attestation_file]


def project_page(server, org: str, token: str, project: str = PROJECT) -> requests.Response:
    return requests.get(f"{server.base_url}/{org}/simple/{project}/", auth=("__token__", token),
                        headers={"Accept": JSON}, timeout=30)


def provenance_url(server, org: str) -> str:
    return f"{server.base_url}/{org}/integrity/{PROJECT}/0.0.19/{ATTESTED_DIST}/provenance"


def assert_not_published(server, org: str, token: str, project: str = PROJECT) -> None:
    assert project_page(server, org, token, project).status_code == 404
    response = requests.get(provenance_url(server, org), auth=("__token__", token), timeout=30)
    assert response.status_code == 404


def test_twine_uploads_a_real_attested_file_and_the_provenance_is_served(
    server, tokens, client_env, real_attestations, tmp_path
):
    files = upload_dir(tmp_path, real_attestations)
    result = twine_upload(client_env, server.base_url, "acme", tokens["acme"], files, "--attestations")
    assert "Only PyPI and TestPyPI support attestations" in said(result)  # twine warns, then sends

    page = project_page(server, "acme", tokens["acme"])
    (entry,) = page.json()["files"]
    link = urljoin(page.url, entry["provenance"])
    assert link == provenance_url(server, "acme")
    html = requests.get(f"{server.base_url}/acme/simple/{PROJECT}/", auth=("__token__", tokens["acme"]), timeout=30)
    assert f'data-provenance="{entry["provenance"]}"' in html.text

    served = requests.get(link, auth=("__token__", tokens["acme"]), timeout=30)
    assert served.status_code == 200 and served.headers["Content-Type"] == INTEGRITY
    provenance = served.json()
    # Exactly what PyPI's integrity endpoint served for this file.
    assert provenance == json.loads(real_attestations["provenance"].read_text())
    assert provenance["version"] == 1
    (bundle,) = provenance["attestation_bundles"]
    assert bundle["publisher"] == ATTESTED_PUBLISHER
    assert bundle["attestations"] == [json.loads(real_attestations["attestation"].read_text())]

    # A reader restricted to the project sees it; one restricted to another project
    # gets 404, like for the file itself; no credentials: 401; another organization: 404.
    assert requests.get(link, auth=("__token__", tokens["acme-reader"]), timeout=30).status_code == 200
    hidden = requests.get(link, auth=("__token__", tokens["acme-billing"]), timeout=30)
    assert hidden.status_code == 404
    assert requests.get(urljoin(page.url, entry["url"]), auth=("__token__", tokens["acme-billing"]),
                        timeout=30).status_code == 404
    assert requests.get(link, timeout=30).status_code == 401
    assert requests.get(provenance_url(server, "beta"), auth=("__token__", tokens["beta"]), timeout=30).status_code == 404


def said(result) -> str:
    """What a client printed, with rich's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def _tampered(attestation: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(attestation)
    signature = bytearray(base64.b64decode(changed["envelope"]["signature"]))
    signature[-1] ^= 1
    changed["envelope"]["signature"] = base64.b64encode(bytes(signature)).decode()
    return changed


def test_twine_upload_with_a_bad_attestation_is_refused_and_publishes_nothing(
    server, tokens, client_env, real_attestations, tmp_path
):
    real = json.loads(real_attestations["attestation"].read_text())
    # Another file carrying the real attestation under its own name.
    other = make_wheel(tmp_path / "built", "billing", "1.0")
    result = twine_upload(client_env, server.base_url, "beta", tokens["beta"],
                          upload_dir(tmp_path / "other", real_attestations, real, dist=other), "--attestations",
                          check=False)
    assert result.returncode != 0 and "400" in said(result)
    assert "not for the uploaded file" in said(result)
    assert_not_published(server, "beta", tokens["beta"], "billing")

    result = twine_upload(client_env, server.base_url, "beta", tokens["beta"],
                          upload_dir(tmp_path / "tampered", real_attestations, _tampered(real)), "--attestations",
                          check=False)
    assert result.returncode != 0 and "does not verify" in said(result)
    assert_not_published(server, "beta", tokens["beta"])


def test_malformed_attestations_field_is_a_400_that_changes_nothing(server, tokens, real_attestations):
    dist = real_attestations["dist"]
    for field, message in [("not json", "not valid JSON"), ('{"version": 1}', "JSON array"),
                           ('[{"version": 1}]', "not a PEP 740 attestation object")]:
        response = requests.post(
            f"{server.base_url}/beta/legacy/", auth=("__token__", tokens["beta"]),
            data={":action": "file_upload", "protocol_version": "1", "attestations": field},
            files={"content": (dist.name, dist.read_bytes(), "application/octet-stream")}, timeout=60,
        )
        assert response.status_code == 400 and message in response.reason, (field, response.reason)
    assert_not_published(server, "beta", tokens["beta"])


def test_a_project_connected_to_another_repository_refuses_its_attestation(
    server, tokens, client_env, real_attestations, tmp_path
):
    # beta's connection names the project: its publisher is known, and is not the signer.
    server.cli("repo", "add", "--org", "beta", "beta/attestations", "--project", PROJECT)
    result = twine_upload(client_env, server.base_url, "beta", tokens["beta"],
                          upload_dir(tmp_path, real_attestations), "--attestations", check=False)
    output = said(result)
    assert result.returncode != 0 and "not made by this project's publisher" in output, output
    assert "github.com/beta/attestations" in output
    assert_not_published(server, "beta", tokens["beta"])


def test_uv_publish_sends_the_attestation_beside_the_file(server, tokens, client_env, real_attestations, tmp_path):
    files = upload_dir(tmp_path, real_attestations)
    result = run([str(BIN / "uv"), "publish", "--no-config", "--publish-url", f"{server.base_url}/gamma/legacy/",
                  "--username", "__token__", "--password", tokens["gamma"], str(files[0].parent / "*")],
                 {**client_env, "UV_NO_CACHE": "1"})
    print("uv publish:", result.stderr[-2000:])
    served = requests.get(provenance_url(server, "gamma"), auth=("__token__", tokens["gamma"]), timeout=30)
    assert served.status_code == 200, result.stderr
    assert served.json() == json.loads(real_attestations["provenance"].read_text())
