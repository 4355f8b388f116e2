"""Trusted publishing end to end, on every backend, with the real clients:
Envelope behind TLS (a throwaway CA the clients trust), a local OIDC issuer
with its own keys (ENVELOPE_OIDC_GITHUB_ISSUER), and a local stand-in for
the runner's ID-token endpoint. No envl_ secret is stored anywhere: each
job exchanges its OIDC identity for a 15-minute token.

- `uv publish --trusted-publishing always`, which asks
  https://HOST/_/oidc/audience, mints, uploads and burns the token;
- the exchange pypa/gh-action-pypi-publish runs (its oidc-exchange step:
  audience, then the ambient credential through the `id` package it uses,
  then mint-token, reading PyPI's error shape), then twine with the token;
- a read publisher: uv and pip install a private dependency with a minted
  read token, and are refused the projects it does not name."""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import id as ambient_id
import pytest
import requests

from sqlalchemy import select

from envelope.db import Database
from envelope.models import AuditEvent
from tests.builders import make_wheel
from tests.fake_github.oidc import FakeOidc, Job, SigningKey
from envelope.publishing.workflows import install_steps
from tests.integration.clients import pip, run, twine_upload, uv
from tests.services.tls import TlsFront

ORG = "acme"


@pytest.fixture(scope="module")
def oidc():
    with FakeOidc() as fake:
        yield fake


@pytest.fixture(scope="module")
def server_env(oidc) -> dict[str, str]:
    return {"ENVELOPE_OIDC_GITHUB_ISSUER": oidc.url, "ENVELOPE_TRUSTED_PROXIES": "1"}


@pytest.fixture(scope="module")
def front(server, oidc):
    with TlsFront(server) as tls:
        server.cli("org", "create", ORG)
        yield tls


@pytest.fixture
def job(oidc):
    """The job the next ID token describes; back to the default afterwards."""
    yield oidc
    oidc.job = Job()


def _add_publisher(server, *args: str) -> int:
    result = server.cli("publisher", "add", "--org", ORG, *args)
    return int(result.stdout.strip().splitlines()[-1])


def _env(front: TlsFront, oidc: FakeOidc, client_env: dict[str, str]) -> dict[str, str]:
    return {**client_env, **front.trust_env, **oidc.actions_env}


def exchange(front: TlsFront, oidc: FakeOidc) -> requests.Response:
    """What the PyPA action's oidc-exchange step does, against Envelope: the
    audience from https://DOMAIN/_/oidc/audience, the ambient OIDC token from
    the runner (the `id` package, with the runner's environment), then POST
    {"token": …} to https://DOMAIN/_/oidc/mint-token."""
    domain = front.base_url.split("://", 1)[1]
    audience = requests.get(f"https://{domain}/_/oidc/audience", verify=str(front.ca_file), timeout=30)
    assert audience.ok, audience.text
    with mock.patch.dict(os.environ, oidc.actions_env):
        oidc_token = ambient_id.detect_credential(audience=audience.json()["audience"])
    return requests.post(f"https://{domain}/_/oidc/mint-token", json={"token": oidc_token},
                         verify=str(front.ca_file), timeout=30)


def _events(server, action: str) -> list[dict]:
    url = server.env.get("DATABASE_URL") or f"sqlite:///{server.data_dir / 'envelope.db'}"
    db = Database(url)
    try:
        with db.read() as session:
            return [json.loads(json.dumps(e.detail)) | {"actor": e.actor}
                    for e in session.scalars(select(AuditEvent).where(AuditEvent.action == action))]
    finally:
        db.dispose()


def test_uv_publishes_with_trusted_publishing_and_burns_the_token(server, front, job, client_env, tmp_path) -> None:
    publisher = _add_publisher(server, "--repository", "acme/billing", "--workflow", "release.yml",
                               "--environment", "pypi", "--project", "billing")
    job.job = Job(environment="pypi", run_id="1111", sha="c" * 40)
    wheel = make_wheel(tmp_path / "dist", "billing", "1.0.0")
    result = uv(_env(front, job, client_env), "publish", "--trusted-publishing", "always",
                "--publish-url", f"{front.base_url}/{ORG}/legacy/", str(wheel))
    assert "Uploading billing-1.0.0-py3-none-any.whl" in result.stderr, result.stderr
    minted = [e for e in _events(server, "token.mint") if e["run_id"] == "1111"]
    assert len(minted) == 1 and minted[0]["sha"] == "c" * 40 and minted[0]["repository"] == "acme/billing"
    assert f"publisher #{publisher}" in minted[0]["actor"]
    tokens = server.cli("token", "list", "--org", ORG, "--json").stdout
    assert '"status": "revoked"' in tokens, "uv burns the token after its upload"
    reader = server.token(ORG)
    page = requests.get(f"{front.base_url}/{ORG}/simple/billing/", auth=("__token__", reader),
                        verify=str(front.ca_file), timeout=30)
    assert "billing-1.0.0-py3-none-any.whl" in page.text


def test_the_pypa_action_exchange_then_twine(server, front, job, client_env, tmp_path) -> None:
    _add_publisher(server, "--repository", "acme/ledger", "--workflow", "publish.yaml", "--project", "ledger")
    job.job = Job(repository="acme/ledger", workflow="publish.yaml", run_id="2222")
    response = exchange(front, job)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["token"].startswith("envl_") and body["expires"]
    wheel = make_wheel(tmp_path / "dist", "ledger", "2.0.0")
    env = {**client_env, **front.trust_env}
    twine_upload(env, front.base_url, ORG, body["token"], [wheel])
    # The token is limited to the publisher's project.
    other = make_wheel(tmp_path / "other", "billing", "9.0.0")
    refused = twine_upload(env, front.base_url, ORG, body["token"], [other], check=False)
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr


@pytest.mark.parametrize("job_options, claims, words", [
    ({"repository": "acme/other"}, {}, "No trusted publisher"),
    ({"workflow": "ci.yml"}, {}, "No trusted publisher"),
    ({"environment": "staging"}, {}, "No trusted publisher"),
    ({}, {"exp": -60}, "expired"),
    ({}, {"aud": "pypi"}, "audience"),
    ({}, {"key": "forged"}, "signature does not verify"),
    ({}, {"key": "unknown"}, "does not publish"),
], ids=["wrong-repository", "wrong-workflow", "wrong-environment", "expired", "wrong-audience",
        "bad-signature", "unknown-issuer-key"])
def test_refusals_in_pypis_shape(server, front, job, job_options, claims, words) -> None:
    _add_publisher_once(server)
    job.job = Job(repository="acme/refusals", workflow="release.yml", environment="pypi")
    for name, value in job_options.items():
        setattr(job.job, name, value)
    options = dict(claims)
    if options.get("exp") == -60:
        now = int(time.time())
        options.update(exp=now - 60, iat=now - 360)
    key = options.pop("key", None)
    if key == "forged":
        options["key"] = SigningKey(SigningKey.generate().private, job.key.kid)
    elif key == "unknown":
        options["key"] = SigningKey.generate()
    response = requests.post(f"{front.base_url}/_/oidc/mint-token", json={"token": job.token(**options)},
                             verify=str(front.ca_file), timeout=30)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "Token request failed"
    assert words in body["errors"][0]["description"] and body["errors"][0]["code"], body


_ADDED: set[str] = set()


def _add_publisher_once(server) -> None:
    if server.data_dir.as_posix() not in _ADDED:
        _add_publisher(server, "--repository", "acme/refusals", "--workflow", "release.yml", "--environment", "pypi")
        _ADDED.add(server.data_dir.as_posix())


def test_a_replayed_token_is_refused(server, front, job) -> None:
    _add_publisher_once(server)
    job.job = Job(repository="acme/refusals", environment="pypi")
    token = job.token()
    first = requests.post(f"{front.base_url}/_/oidc/mint-token", json={"token": token},
                          verify=str(front.ca_file), timeout=30)
    again = requests.post(f"{front.base_url}/_/oidc/mint-token", json={"token": token},
                          verify=str(front.ca_file), timeout=30)
    assert first.status_code == 200, first.text
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "invalid-reuse-token"


def test_racing_replays_mint_one_token(server, front, job) -> None:
    """The same OIDC token sent eight times at once, to every web process:
    one exchange wins, on SQLite and on PostgreSQL alike."""
    _add_publisher_once(server)
    job.job = Job(repository="acme/refusals", environment="pypi")
    token = job.token()

    def post(_: int) -> int:
        return requests.post(f"{front.base_url}/_/oidc/mint-token", json={"token": token},
                             verify=str(front.ca_file), timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, range(8)))
    assert statuses == [200] + [422] * 7, statuses


def test_a_read_publisher_installs_private_dependencies(server, front, job, client_env, tmp_path) -> None:
    uploader = server.token(ORG, "--scope", "upload")
    env = {**client_env, **front.trust_env}
    twine_upload(env, front.base_url, ORG, uploader,
                 [make_wheel(tmp_path / "a", "shared-utils", "1.2.0"), make_wheel(tmp_path / "b", "secret-sauce", "1.0.0")])
    _add_publisher(server, "--repository", "acme/app", "--workflow", "ci.yml", "--scope", "read",
                   "--project", "shared-utils")
    job.job = Job(repository="acme/app", workflow="ci.yml", ref="refs/heads/main")
    response = exchange(front, job)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    index = f"https://__token__:{token}@{front.base_url.split('://', 1)[1]}/{ORG}/simple/"
    pip(env, "install", "--target", str(tmp_path / "pip"), "--index-url", index, "shared-utils==1.2.0")
    uv(env, "pip", "install", "--target", str(tmp_path / "uv"), "--index-url", index, "shared-utils==1.2.0")
    assert list((tmp_path / "pip").glob("shared_utils-1.2.0.dist-info"))
    assert list((tmp_path / "uv").glob("shared_utils-1.2.0.dist-info"))
    refused = pip(env, "install", "--target", str(tmp_path / "no"), "--index-url", index, "secret-sauce", check=False)
    assert refused.returncode != 0 and "No matching distribution" in refused.stdout + refused.stderr
    refused = uv(env, "pip", "install", "--target", str(tmp_path / "no-uv"), "--index-url", index, "secret-sauce",
                 check=False)
    assert refused.returncode != 0
    upload = twine_upload(env, front.base_url, ORG, token, [make_wheel(tmp_path / "c", "shared-utils", "1.3.0")],
                          check=False)
    assert upload.returncode != 0 and "403" in upload.stdout + upload.stderr


def test_the_read_step_the_publishers_page_shows_works(server, front, job, client_env, tmp_path) -> None:
    """The job the publishers page shows for a read publisher (the step ci
    init writes, the organization's URL written in), its step run as
    written, then pip with the PIP_INDEX_URL it wrote to $GITHUB_ENV."""
    import yaml

    uploader = server.token(ORG, "--scope", "upload")
    env = {**client_env, **front.trust_env}
    twine_upload(env, front.base_url, ORG, uploader, [make_wheel(tmp_path / "a", "ci-helpers", "0.3.0")])
    _add_publisher(server, "--repository", "acme/tools", "--workflow", "test.yml", "--scope", "read",
                   "--project", "ci-helpers")
    job.job = Job(repository="acme/tools", workflow="test.yml", ref="refs/pull/7/merge", event_name="pull_request")
    shown = yaml.safe_load(install_steps(front.base_url, ORG))["jobs"]["test"]
    step = next(s for s in shown["steps"] if s.get("name") == "Read token for private dependencies")
    assert step["env"] == {"ENVELOPE_URL": f"{front.base_url}/{ORG}"}
    github_env = tmp_path / "github_env"
    run(["bash", "-e", "-c", step["run"]],
        {**env, **job.actions_env, **step["env"], "GITHUB_ENV": str(github_env)})
    exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    assert "envl_" in exported["PIP_INDEX_URL"] and exported["UV_INDEX_ENVELOPE_PASSWORD"].startswith("envl_")
    pip({**env, "PIP_INDEX_URL": exported["PIP_INDEX_URL"]}, "install", "--target", str(tmp_path / "t"), "ci-helpers")
    assert list((tmp_path / "t").glob("ci_helpers-0.3.0.dist-info"))


def test_the_read_step_envelope_ci_init_writes_feeds_pip_and_uv(server, front, job, client_env, tmp_path) -> None:
    """The private-dependencies step of `envelope ci init --private-deps`
    (bash and Python's standard library), run as written against Envelope:
    its build job (environment envelope-read) and its publish job (environment
    envelope) each match one publisher, and pip and uv install with what the
    step wrote to $GITHUB_ENV, uv through the index named "envelope"."""
    import yaml

    from cli.ci_init import render

    uploader = server.token(ORG, "--scope", "upload")
    env = {**client_env, **front.trust_env}
    twine_upload(env, front.base_url, ORG, uploader, [make_wheel(tmp_path / "a", "lib-core", "2.1.0")])
    for environment, scope in (("envelope-read", "read"), ("envelope", "upload")):
        _add_publisher(server, "--repository", "acme/lib", "--workflow", "release-wheels.yml",
                       "--environment", environment, "--scope", scope, "--project", "lib-core")
    job.job = Job(repository="acme/lib", workflow="release-wheels.yml", ref="refs/tags/v2.1.0",
                  environment="envelope-read")
    build = yaml.safe_load(render("pure", "trusted", private_deps=True))["jobs"]["build"]
    assert build["environment"] == "envelope-read"
    step = next(s for s in build["steps"] if s.get("name") == "Read token for private dependencies")
    github_env = tmp_path / "github_env"
    result = run(["bash", "-e", "-c", step["run"]],
                 {**env, **job.actions_env, "ENVELOPE_URL": f"{front.base_url}/{ORG}", "GITHUB_ENV": str(github_env)})
    exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    token = exported["UV_INDEX_ENVELOPE_PASSWORD"]
    assert token.startswith("envl_") and exported["UV_INDEX_ENVELOPE_USERNAME"] == "__token__"
    assert exported["PIP_INDEX_URL"] == f"https://__token__:{token}@{front.base_url.split('://', 1)[1]}/{ORG}/simple/"
    assert f"::add-mask::{token}" in result.stdout
    pip({**env, "PIP_INDEX_URL": exported["PIP_INDEX_URL"]}, "install", "--target", str(tmp_path / "pip"), "lib-core")
    assert list((tmp_path / "pip").glob("lib_core-2.1.0.dist-info"))
    uv({**env, **{k: v for k, v in exported.items() if k.startswith("UV_")}}, "pip", "install",
       "--target", str(tmp_path / "uv"), "--default-index", f"envelope={front.base_url}/{ORG}/simple/", "lib-core")
    assert list((tmp_path / "uv").glob("lib_core-2.1.0.dist-info"))
    # The publish job's identity gets the upload publisher's token, not an ambiguity.
    job.job = Job(repository="acme/lib", workflow="release-wheels.yml", ref="refs/tags/v2.1.0", environment="envelope")
    assert exchange(front, job).status_code == 200
