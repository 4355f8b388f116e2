"""PyPI's JSON API (/{org}/pypi/{project}/json) against a real server, on every backend.

The server runs behind a recording proxy whose address is its
ENVELOPE_BASE_URL, so the test sees which URLs clients fetch: pip-compile
--generate-hashes must take every hash from the JSON API and download no
distribution.
"""
from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.builders import make_sdist, make_wheel
from tests.integration.clients import index_url, installed_version, pip, run, tool_bin, twine_upload, uv
from tests.integration.recording_proxy import RecordingProxy

ORG = "acme"
PIP_TOOLS = "pip-tools==7.7.0"
PLATFORM_TAGS = [
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-musllinux_1_2_x86_64",
    "cp311-cp311-macosx_11_0_arm64",
    "cp311-cp311-win_amd64",
]
PROJECT_URLS = "Project-URL: Source, https://git.example.invalid/billing\nAuthor: Billing Team\n"


@pytest.fixture(scope="module")
def front() -> Iterator[RecordingProxy]:
    with RecordingProxy() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def server_env(front: RecordingProxy) -> dict[str, str]:
    """Links in the JSON API come from the configured base URL: the proxy's."""
    return {"ENVELOPE_BASE_URL": front.base_url}


@dataclass
class Corpus:
    server: object
    front: RecordingProxy
    read_token: str
    files: dict[str, list[Path]]  # version -> its files

    def get(self, path: str, token: str | None = None, **headers: str) -> requests.Response:
        token = self.read_token if token is None else token
        auth = ("__token__", token) if token else None
        return requests.get(self.front.base_url + path, auth=auth, headers=headers,
                            allow_redirects=False, timeout=30)


@pytest.fixture(scope="module")
def corpus(server, front: RecordingProxy, tmp_path_factory) -> Corpus:
    front.upstream_port = server.port
    dist = tmp_path_factory.mktemp("dist")
    files = {
        "1.0.0": [make_wheel(dist, "billing", "1.0.0", requires_python=">=3.8", extra_metadata=PROJECT_URLS),
                  make_sdist(dist, "billing", "1.0.0")],
        "1.5.0": [make_wheel(dist, "billing", "1.5.0", tags=tag, requires_python=">=3.9",
                             requires_dist=["ledger-core>=2"], extra_metadata=PROJECT_URLS)
                  for tag in PLATFORM_TAGS] + [make_sdist(dist, "billing", "1.5.0")],
        "1.9.0": [make_wheel(dist, "billing", "1.9.0")],
        "2.0.0": [make_wheel(dist, "billing", "2.0.0", extra_metadata=PROJECT_URLS)],
        "2.1.0rc1": [make_wheel(dist, "billing", "2.1.0rc1")],
    }
    ledger = make_wheel(dist, "ledger-core", "2.0.0")
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload", "--name", "ci")
    twine_upload(server.client_env, server.base_url, ORG, upload, [*sum(files.values(), []), ledger])
    server.cli("yank", "--org", ORG, "billing==1.9.0", "--reason", "broken build")
    return Corpus(server, front, server.token(ORG, "--scope", "read"), files)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pip_compile_generate_hashes_reads_the_json_api_and_downloads_nothing(corpus: Corpus, tmp_path: Path) -> None:
    """Without this API pip-tools downloads every file of every platform to hash it."""
    env = {**corpus.server.client_env, "PIP_CONFIG_FILE": "/dev/null"}
    bin_dir = tool_bin("pip-tools", [PIP_TOOLS], env)
    (tmp_path / "requirements.in").write_text("billing==1.5.0\n")
    url = index_url(corpus.front.base_url, ORG, corpus.read_token)
    corpus.front.clear()
    run([str(bin_dir / "pip-compile"), "--generate-hashes", "--no-header", "--no-emit-index-url",
         "--cache-dir", str(tmp_path / "cache"), "--index-url", url,
         "--output-file", str(tmp_path / "requirements.txt"), str(tmp_path / "requirements.in")], env)
    out = (tmp_path / "requirements.txt").read_text()
    for digest in {_sha256(path) for path in corpus.files["1.5.0"]}:  # every file, every platform
        assert f"--hash=sha256:{digest}" in out, out
    billing_block = out.split("billing==1.5.0", 1)[1].split("ledger-core", 1)[0]
    assert billing_block.count("--hash=sha256:") == len(corpus.files["1.5.0"]) == 5, out
    fetched = corpus.front.paths("GET")
    assert f"/{ORG}/pypi/billing/json" in fetched, fetched
    downloads = [p for p in fetched if "/files/" in p and not p.endswith(".metadata")]
    assert downloads == [], f"pip-compile downloaded distributions: {downloads}"


def test_renovate_shaped_request(corpus: Corpus) -> None:
    """Renovate's pypi datasource: GET {registryUrl}{name}/json with Basic auth."""
    registry = f"{corpus.front.base_url}/{ORG}/pypi/"
    response = requests.get(f"{registry}billing/json", auth=("__token__", corpus.read_token), timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    doc = response.json()
    assert doc["info"]["name"] == "billing"
    assert doc["info"]["version"] == "2.0.0"  # 2.1.0rc1 is a pre-release, as PyPI picks
    assert doc["info"]["project_urls"] == {"Source": "https://git.example.invalid/billing"}
    assert doc["info"]["author"] == "Billing Team"
    assert set(doc["releases"]) == {"1.0.0", "1.5.0", "1.9.0", "2.0.0", "2.1.0rc1"}
    assert [f["filename"] for f in doc["urls"]] == [p.name for p in corpus.files["2.0.0"]]
    assert isinstance(doc["last_serial"], int) and doc["last_serial"] > 0
    for version, paths in corpus.files.items():
        entries = {f["filename"]: f for f in doc["releases"][version]}
        assert set(entries) == {p.name for p in paths}
        for path in paths:
            entry = entries[path.name]
            assert entry["digests"]["sha256"] == _sha256(path)
            assert entry["digests"]["md5"] == hashlib.md5(path.read_bytes()).hexdigest()
            assert entry["size"] == path.stat().st_size
            assert entry["url"].startswith(f"{corpus.front.base_url}/{ORG}/files/")
            assert entry["packagetype"] == ("sdist" if path.name.endswith(".tar.gz") else "bdist_wheel")
            assert len(entry["upload_time"]) == 19 and entry["upload_time_iso_8601"].endswith("Z")
            assert entry["yanked"] is (version == "1.9.0")
            assert entry["has_sig"] is False and entry["comment_text"] == ""
    assert doc["releases"]["1.9.0"][0]["yanked_reason"] == "broken build"
    assert doc["releases"]["1.5.0"][0]["requires_python"] == ">=3.9"
    one = corpus.get(f"/{ORG}/pypi/billing/1.5.0/json").json()
    assert "releases" not in one
    assert one["info"]["version"] == "1.5.0" and one["info"]["requires_python"] == ">=3.9"
    assert one["info"]["requires_dist"] == ["ledger-core>=2"]
    assert sorted(f["filename"] for f in one["urls"]) == sorted(p.name for p in corpus.files["1.5.0"])
    yanked = corpus.get(f"/{ORG}/pypi/billing/1.9.0/json").json()["info"]
    assert (yanked["yanked"], yanked["yanked_reason"]) == (True, "broken build")


def test_restricted_token_sees_what_the_simple_index_shows(corpus: Corpus) -> None:
    token = corpus.server.token(ORG, "--scope", "read", "--project", "billing>=1,<2")
    doc = corpus.get(f"/{ORG}/pypi/billing/json", token).json()
    assert set(doc["releases"]) == {"1.0.0", "1.5.0", "1.9.0"}
    assert doc["info"]["version"] == "1.5.0"  # 1.9.0 is yanked
    assert {f["filename"] for f in doc["urls"]} == {p.name for p in corpus.files["1.5.0"]}
    simple = corpus.get(f"/{ORG}/simple/billing/", token, Accept="application/vnd.pypi.simple.v1+json").json()
    files = {f["filename"]: f["hashes"]["sha256"] for f in simple["files"]}
    assert {f["filename"]: f["digests"]["sha256"] for fs in doc["releases"].values() for f in fs} == files
    assert doc["last_serial"] == simple["meta"]["_last-serial"]
    missing = corpus.get(f"/{ORG}/pypi/no-such-project/json", token)
    for path in (f"/{ORG}/pypi/billing/2.0.0/json", f"/{ORG}/pypi/billing/2.1.0rc1/json",
                 f"/{ORG}/pypi/ledger-core/json", f"/{ORG}/pypi/ledger-core/2.0.0/json"):
        hidden = corpus.get(path, token)
        assert (hidden.status_code, hidden.text) == (404, missing.text), path
    assert corpus.get(f"/{ORG}/pypi/billing/1.5.0/json", token).status_code == 200
    assert corpus.get(f"/{ORG}/pypi/billing/1.5/json", token).json()["info"]["version"] == "1.5.0"


def test_credentials_redirects_and_missing_names(corpus: Corpus) -> None:
    for token in ("", "envl_not-a-token"):
        refused = corpus.get(f"/{ORG}/pypi/billing/json", token)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Basic realm="envelope"'
    moved = corpus.get(f"/{ORG}/pypi/Billing/json")
    assert (moved.status_code, moved.headers["Location"]) == (301, f"/{ORG}/pypi/billing/json")
    moved = corpus.get(f"/{ORG}/pypi/Billing/1.5.0/json")
    assert (moved.status_code, moved.headers["Location"]) == (301, f"/{ORG}/pypi/billing/1.5.0/json")
    corpus.server.cli("org", "create", "globex")
    foreign = corpus.server.token("globex", "--scope", "read")
    as_simple = corpus.get(f"/{ORG}/simple/billing/", foreign)
    as_json = corpus.get(f"/{ORG}/pypi/billing/json", foreign)
    assert as_json.status_code == as_simple.status_code in (401, 404)
    assert corpus.get(f"/{ORG}/pypi/billing/9.9/json").status_code == 404
    assert corpus.get(f"/{ORG}/pypi/billing/not-a-version/json").status_code == 404


def test_links_come_from_the_base_url_never_the_host_header(corpus: Corpus) -> None:
    response = requests.get(f"{corpus.server.base_url}/{ORG}/pypi/billing/json",
                            auth=("__token__", corpus.read_token), headers={"Host": "evil.example"}, timeout=30)
    urls = [f["url"] for files in response.json()["releases"].values() for f in files]
    assert urls and all(u.startswith(f"{corpus.front.base_url}/{ORG}/files/") for u in urls)


def test_conditional_requests(corpus: Corpus) -> None:
    first = corpus.get(f"/{ORG}/pypi/billing/json")
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in first.headers["Vary"]
    again = corpus.get(f"/{ORG}/pypi/billing/json", **{"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", first.headers["ETag"])
    token = corpus.server.token(ORG, "--scope", "read", "--project", "billing>=1,<2")
    narrow = corpus.get(f"/{ORG}/pypi/billing/json", token)
    assert narrow.headers["ETag"] != first.headers["ETag"]
    assert corpus.get(f"/{ORG}/pypi/billing/json", token,
                      **{"If-None-Match": narrow.headers["ETag"]}).status_code == 304
    version = corpus.get(f"/{ORG}/pypi/billing/1.5.0/json")
    assert version.headers["ETag"] not in (first.headers["ETag"], narrow.headers["ETag"])


# --- bytes on the wire: index pages gzip-encoded for clients that accept it ----------


def test_pip_and_uv_install_through_gzip_pages_and_get_files_as_stored(corpus: Corpus, tmp_path: Path) -> None:
    """pip and uv send `Accept-Encoding: gzip`: every page they read goes out
    compressed (the recording proxy sees the encoding as sent), and the
    distributions, zip files already, go out untouched."""
    env = corpus.server.client_env
    url = index_url(corpus.front.base_url, ORG, corpus.read_token)
    corpus.front.clear()
    pip(env, "install", "--target", str(tmp_path / "p"), "--index-url", url, "billing==2.0.0")
    uv(env, "pip", "install", "--target", str(tmp_path / "u"), "--index-url", url, "billing==2.0.0")
    assert installed_version(tmp_path / "p", "billing") == installed_version(tmp_path / "u", "billing") == "2.0.0"
    sent = list(corpus.front.answers)
    pages = [answer for answer in sent if "/simple/" in answer[0] and answer[1] == 200]
    files = [answer for answer in sent if "/files/" in answer[0]]
    assert len(pages) >= 2 and all(coding == "gzip" for _, _, coding in pages), sent
    assert files and all(coding is None for _, _, coding in files), sent


def _raw(corpus: Corpus, path: str, **headers: str) -> tuple[requests.Response, bytes]:
    """The response and its body as sent (not decoded by requests)."""
    response = requests.get(corpus.front.base_url + path, auth=("__token__", corpus.read_token), headers=headers,
                            allow_redirects=False, timeout=30, stream=True)
    return response, response.raw.read(decode_content=False)


@pytest.mark.parametrize("path, accept", [
    (f"/{ORG}/simple/billing/", "text/html"),
    (f"/{ORG}/simple/billing/", "application/vnd.pypi.simple.v1+json"),
    (f"/{ORG}/simple/", "application/vnd.pypi.simple.v1+json"),
    (f"/{ORG}/pypi/billing/json", "application/json"),
])
def test_gzip_and_identity_are_two_representations_with_their_own_etags(corpus: Corpus, path: str,
                                                                         accept: str) -> None:
    plain, plain_body = _raw(corpus, path, Accept=accept, **{"Accept-Encoding": "identity"})
    packed, packed_body = _raw(corpus, path, Accept=accept, **{"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed_body) == plain_body
    assert int(packed.headers["Content-Length"]) == len(packed_body)
    assert int(plain.headers["Content-Length"]) == len(plain_body)
    for response in (plain, packed):
        assert "Accept-Encoding" in response.headers["Vary"] and "Authorization" in response.headers["Vary"]
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    # Each tag revalidates its own representation; the other's tag is a different one.
    again, body = _raw(corpus, path, Accept=accept, **{"Accept-Encoding": "gzip",
                                                       "If-None-Match": packed.headers["ETag"]})
    assert (again.status_code, body, again.headers["ETag"]) == (304, b"", packed.headers["ETag"])
    assert again.headers["Vary"] == packed.headers["Vary"]
    assert _raw(corpus, path, Accept=accept, **{"Accept-Encoding": "identity",
                                                "If-None-Match": plain.headers["ETag"]})[0].status_code == 304
    crossed, body = _raw(corpus, path, Accept=accept, **{"Accept-Encoding": "identity",
                                                         "If-None-Match": packed.headers["ETag"]})
    assert crossed.status_code == 200 and body == plain_body
    refused, body = _raw(corpus, path, Accept=accept, **{"Accept-Encoding": "gzip;q=0, *"})
    assert "Content-Encoding" not in refused.headers and body == plain_body
