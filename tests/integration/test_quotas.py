"""Quotas with real clients on every backend (embedded SQLite + files,
PostgreSQL + S3): `envelope org quota` sets the limits; twine's upload past
the storage limit is refused with a 413 whose status line names the limit
and the usage; a download past the monthly limit is a 429 with the reset time,
which pip reports at once (no Retry-After: urllib3 would sleep until the month ends)."""
from __future__ import annotations

import json
import time
from email import message_from_bytes
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.builders import make_wheel
from tests.integration.clients import pip, twine_upload

ORG = "quota-co"
HOUSEKEEPING = 2  # seconds: how often beat runs the warnings here (an hour by default)


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ENVELOPE_HOUSEKEEPING_INTERVAL": str(HOUSEKEEPING)}


def test_cli_sets_limits_and_twine_reads_the_storage_refusal(server, tmp_path: Path) -> None:
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload")
    first = make_wheel(tmp_path / "dist", "bounded", "1.0")
    twine_upload(server.client_env, server.base_url, ORG, upload, [first])
    size = first.stat().st_size

    out = server.cli("org", "quota", ORG, "--storage", f"{size + 100}", "--downloads", "100GB", "--members", "20").stdout
    assert out.splitlines()[:2] == ["Plan: none (its own limits).", f"Storage: {_fmt(size)} of {_fmt(size + 100)}, in 1 files."]
    assert "of 100 GB (0 downloads, 0 index requests)." in out and "Members: 0 of 20." in out
    shown = json.loads(server.cli("org", "quota", ORG, "--json").stdout)
    assert shown["limits"] == {"storage_bytes": size + 100, "download_bytes_per_month": 100 * 10**9, "members": 20}
    assert shown["plan"] is None
    bad = server.cli("org", "quota", ORG, "--storage", "lots", check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "Error: 'lots' is not a size: write a number with a unit, such as 500MB, 10GB or 2TiB.")

    # The sentence is the reason phrase: twine prints the status line, no --verbose needed.
    refused = twine_upload(server.client_env, server.base_url, ORG, upload,
                           [make_wheel(tmp_path / "dist", "bounded", "2.0")], check=False)
    output = " ".join((refused.stdout + refused.stderr).split())  # twine's rich output wraps lines
    print(output)  # for the record: what a person sees
    assert refused.returncode != 0 and "HTTPError: 413 " in output
    # twine prints the standard phrase, the URL, then the server's reason phrase: the sentence.
    assert (f"/{ORG}/legacy/ Storage quota exceeded: this organization may store {_fmt(size + 100)} "
            f"and uses {_fmt(size)};") in output
    read = server.token(ORG, "--scope", "read")
    page = requests.get(server.url(f"/{ORG}/simple/bounded/"), auth=("__token__", read), timeout=30).text
    assert "bounded-2.0" not in page

    # No limit again: the upload goes through.
    server.cli("org", "quota", ORG, "--storage", "none")
    twine_upload(server.client_env, server.base_url, ORG, upload, [make_wheel(tmp_path / "dist", "bounded", "2.0")])


def test_a_download_past_the_monthly_limit_is_429_with_retry_after(server, tmp_path: Path) -> None:
    org = "capped-co"
    server.cli("org", "create", org)
    upload = server.token(org, "--scope", "upload")
    wheel = make_wheel(tmp_path / "dist", "capped", "1.0")
    twine_upload(server.client_env, server.base_url, org, upload, [wheel])
    server.cli("org", "quota", org, "--downloads", "0")  # nothing may be downloaded this month
    read = server.token(org, "--scope", "read")

    failed = pip(server.client_env, "download", "--no-deps", "--no-cache-dir", "-d", str(tmp_path / "dl"),
                 "--index-url", server.index_url(org, read), "capped==1.0", check=False)
    assert failed.returncode != 0 and "429" in failed.stdout + failed.stderr
    print(" ".join((failed.stdout + failed.stderr).split()))  # for the record: what a person sees
    page = requests.get(server.url(f"/{org}/simple/capped/"), auth=("__token__", read),
                        headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30).json()
    response = requests.get(urljoin(server.url(f"/{org}/simple/capped/"), page["files"][0]["url"]), auth=("__token__", read), timeout=30, allow_redirects=False)
    assert response.status_code == 429 and int(response.headers["RateLimit-Reset"]) > 0
    assert "Retry-After" not in response.headers  # pip and uv would sleep until the month ends
    assert response.text.startswith("Download quota exceeded: this organization may download 0 bytes a month")


def test_owners_get_one_warning_mail_at_80_percent(server, tmp_path: Path) -> None:
    """Beat's housekeeping finds the organization past 80 % of its storage and
    mails its owner, once this month however often it runs."""
    org = "warned-co"
    server.cli("user", "create", "wanda", "--email", "wanda@example.com")
    server.cli("org", "create", org, "--owner", "wanda")
    wheel = make_wheel(tmp_path / "dist", "heavy", "1.0")
    server.cli("import", "--org", org, str(wheel))
    server.cli("org", "quota", org, "--storage", str(wheel.stat().st_size * 10 // 9))  # 90 % used

    def warnings_sent() -> list:
        found = [message_from_bytes(p.read_bytes()) for p in sorted((server.data_dir / "mail").glob("*.eml"))]
        return [m for m in found if m["Subject"] == f"{org}: 80 % of a limit reached"]

    deadline = time.monotonic() + 60
    while not warnings_sent() and time.monotonic() < deadline:
        time.sleep(0.5)
    (mail,) = warnings_sent()
    assert mail["To"] == "wanda@example.com"
    assert "Storage: " in mail.get_payload() and f"/{org}/usage" in mail.get_payload()
    time.sleep(HOUSEKEEPING * 3)  # several more runs
    assert len(warnings_sent()) == 1


def _fmt(size: int) -> str:
    from envelope.quotas import format_bytes

    return format_bytes(size)
