"""`envelope doctor`: the sentence pip never shows, for each way a token fails.

One real `envelope serve`; the doctor runs as a user runs it (the installed
`envelope` command, from a folder with no Envelope data), against each kind
of credential. pip, given the same URL, says only "(from versions: none)".
"""
from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from envelope.config import Settings
from envelope.db import Database
from envelope.models import AccessToken
from envelope.models.base import utcnow
from tests.builders import make_wheel
from tests.integration.clients import pip, twine_upload
from tests.services.envelope_server import envelope_executable


def _doctor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(elsewhere), "ENVELOPE_DATA_DIR": str(elsewhere / "none")}
    return subprocess.run([str(envelope_executable()), "doctor", *args], env=env, cwd=elsewhere,
                          capture_output=True, text=True, timeout=60)


def _says(result: subprocess.CompletedProcess, sentence: str, *, ok: bool = False) -> None:
    assert result.returncode == (0 if ok else 1), result
    stream = result.stdout if ok else result.stderr
    assert stream.strip() == (sentence if ok else f"Error: {sentence}"), stream
    assert not re.search(r"envl_[A-Za-z0-9_-]{8}", result.stdout + result.stderr)  # no token is ever printed


def test_the_doctor_names_what_is_wrong_with_a_token(envelope_server, tmp_path: Path) -> None:
    server = envelope_server()
    server.cli("org", "create", "acme")
    server.cli("org", "create", "other")
    upload = server.token("acme", "--scope", "upload", "--name", "ci")
    dist = tmp_path / "dist"
    for name in ("billing", "ledger"):
        make_wheel(dist, name, "1.0")
    twine_upload(server.client_env, server.base_url, "acme", upload, sorted(dist.glob("*.whl")))

    good = server.token("acme", "--scope", "read", "--name", "laptop", "--expires", "30d")
    limited = server.token("acme", "--scope", "read", "--project", "billing>=1,<2", "--name", "billing-only")
    revoked = server.token("acme", "--scope", "read", "--name", "old")
    expired = server.token("acme", "--scope", "read", "--name", "short")
    server.cli("token", "revoke", _token_id(server, "old"))
    database = Database(Settings.from_env(server.env).database_url)
    with database.write() as session:
        session.execute(update(AccessToken).where(AccessToken.name == "short")
                        .values(expires=utcnow() - timedelta(hours=1)))
    database.dispose()
    origin = server.base_url
    at = lambda token, org="acme": server.index_url(org, token)  # noqa: E731

    _says(_doctor(tmp_path, at(good)), "OK: " + f"{origin}/acme/simple/ accepts this read token "
          "(expiring " + _expiry(server, "laptop") + " UTC) and lists 2 projects.", ok=True)
    _says(_doctor(tmp_path, at(good), "ledger"),
          f"OK: this read token (expiring {_expiry(server, 'laptop')} UTC) can install ledger from "
          f"{origin}/acme/simple/ (1 installable file).", ok=True)
    _says(_doctor(tmp_path, f"{origin}/acme/simple/", "billing", "--token", limited),
          "OK: this read token (limited to billing<2,>=1) "
          f"can install billing from {origin}/acme/simple/ (1 installable file).", ok=True)

    _says(_doctor(tmp_path, at(limited), "ledger"),
          "This token is limited to billing<2,>=1: it cannot see ledger; make a token that includes it.")
    _says(_doctor(tmp_path, at(good), "nosuch"),
          "No project nosuch in acme that this token can see (and the organization does not proxy it "
          "from an upstream): check the name.")
    _says(_doctor(tmp_path, at(revoked)), f"This access token has been revoked ({origin} refused it for acme).")
    expired_on = _doctor(tmp_path, at(expired))
    assert expired_on.returncode == 1 and expired_on.stderr.startswith("Error: This access token expired on ")
    assert expired_on.stderr.strip().endswith(f"UTC; create a new one ({origin} refused it for acme).")
    _says(_doctor(tmp_path, at("envl_" + "A" * 43)), f"Invalid access token ({origin} refused it for acme).")
    _says(_doctor(tmp_path, at(good, "other")),
          "This token belongs to the organization 'acme', not 'other'; use /acme/simple/ to install and "
          "/acme/legacy/ to upload.")
    _says(_doctor(tmp_path, f"{origin}/acme/simple/"),
          "No token given: put it in the URL (https://__token__:envl_…@HOST/ORG/simple/) or pass --token.")
    _says(_doctor(tmp_path, f"http://127.0.0.1:9/acme/simple/", "--token", good),
          "Cannot reach 127.0.0.1:9: nothing listens at that address and port.")
    unusable = _doctor(tmp_path, f"{origin}/acme/legacy/", "--token", good)
    assert unusable.returncode == 2 and "is not an index URL: it looks like https://HOST/ORG/simple/" in unusable.stderr

    # What pip says with the revoked token: nothing a person can act on.
    env = {**server.client_env, "PIP_NO_INPUT": "1"}
    silent = pip(env, "download", "--no-deps", "-d", str(tmp_path / "dl"), "--index-url", at(revoked), "billing",
                 check=False)
    assert silent.returncode != 0 and "revoked" not in silent.stdout + silent.stderr


def _token_id(server, name: str) -> str:
    for line in server.cli("token", "list", "--org", "acme").stdout.splitlines()[1:]:
        if name in line.split():
            return line.split()[0]
    raise AssertionError(f"no token {name}")


def _expiry(server, name: str) -> str:
    import json

    rows = json.loads(server.cli("token", "list", "--org", "acme", "--json").stdout)
    expires = next(r["expires"] for r in rows if r["name"] == name)
    return expires[:16].replace("T", " ")
