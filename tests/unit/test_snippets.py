"""Install and publish snippets: Envelope is the only index every client
asks, public packages come through the proxy or a warning says why not, and
no snippet carries a token unless one is given."""
from __future__ import annotations

import tomllib
from configparser import ConfigParser

import pytest

from envelope.index.snippets import (
    TOKEN_PLACEHOLDER, index_url, install_snippets, public_packages, publish_snippets, upload_url, uv_env_name,
)
from envelope.upstream.proxy import DEFAULT_UPSTREAM

BASE = "https://pkgs.example.com"
INDEX = "https://pkgs.example.com/acme-corp/simple/"
LEGACY = "https://pkgs.example.com/acme-corp/legacy/"


def texts(**kwargs) -> dict[str, str]:
    return {s.key: s.text for s in install_snippets(BASE, "acme-corp", **kwargs)}


@pytest.mark.parametrize(("name", "env"), [("acme", "ACME"), ("acme-corp", "ACME_CORP"), ("a.b_c", "A_B_C")])
def test_uv_env_name(name, env):
    assert uv_env_name(name) == env


@pytest.mark.parametrize("base", ["https://pkgs.example.com", "https://pkgs.example.com/"])
def test_urls_come_from_the_base_url(base):
    assert index_url(base, "acme-corp") == INDEX
    assert upload_url(base, "acme-corp") == LEGACY


def test_uv_makes_envelope_the_default_index_and_nothing_else():
    config = tomllib.loads(texts(project="billing")["uv"])
    assert config == {"tool": {"uv": {"index": [
        {"name": "acme-corp", "url": INDEX, "default": True, "authenticate": "always"},
    ]}}}
    assert "sources" not in config["tool"]["uv"]  # no explicit index, no per-package pins


def test_pdm_source_named_pypi_replaces_pypi_without_a_secret_in_the_file():
    for kwargs in ({}, {"token": "envl_secret"}):
        config = tomllib.loads(texts(**kwargs)["pdm"])
        assert config == {"tool": {"pdm": {"source": [
            {"name": "pypi", "url": "https://__token__:${ENVELOPE_TOKEN}@pkgs.example.com/acme-corp/simple/"},
        ]}}}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("pip-cli", 'pip install --index-url "https://__token__:$ENVELOPE_TOKEN@pkgs.example.com/acme-corp/simple/" billing\n'),
        ("uv-env", 'export UV_INDEX_ACME_CORP_USERNAME=__token__\nexport UV_INDEX_ACME_CORP_PASSWORD="$ENVELOPE_TOKEN"\n'),
        ("poetry", f'poetry source add --priority=primary acme-corp {INDEX}\n'
                   'poetry config http-basic.acme-corp __token__ "$ENVELOPE_TOKEN"\npoetry add billing\n'),
        ("pip-conf", "[global]\nindex-url = https://__token__:$ENVELOPE_TOKEN@pkgs.example.com/acme-corp/simple/\n"),
        ("env", 'export PIP_INDEX_URL="https://__token__:$ENVELOPE_TOKEN@pkgs.example.com/acme-corp/simple/"\n'),
    ],
)
def test_install_snippets_without_a_token(key, expected):
    assert texts(project="billing")[key] == expected


def test_uv_pip_uses_the_index_url_and_the_default_index_variable():
    text = texts(project="billing")["uv-pip"]
    assert 'uv pip install --index-url "https://__token__:$ENVELOPE_TOKEN@pkgs.example.com/acme-corp/simple/" billing' in text
    assert 'export UV_DEFAULT_INDEX="https://__token__:$ENVELOPE_TOKEN@pkgs.example.com/acme-corp/simple/"' in text
    assert "UV_INDEX_URL" in text


def test_no_snippet_invites_a_second_index():
    for snippet in install_snippets(BASE, "acme-corp", project="billing"):
        assert "--extra-index-url" not in snippet.text and "extra-index-url" not in snippet.text
        assert "explicit" not in snippet.text and "supplemental" not in snippet.text
        assert "pypi.org" not in snippet.text


def test_a_given_token_replaces_the_placeholder_everywhere_but_in_pyproject_files():
    with_token = texts(token="envl_secret")
    for key, text in with_token.items():
        assert TOKEN_PLACEHOLDER not in text, key
        assert ("envl_secret" in text) == (key not in {"uv", "pdm"}), key
    assert with_token["pip-conf"] == "[global]\nindex-url = https://__token__:envl_secret@pkgs.example.com/acme-corp/simple/\n"
    assert "PACKAGE" in with_token["pip-cli"]  # no project given


def test_the_placeholder_never_looks_like_a_token():
    for snippet in install_snippets(BASE, "acme") + publish_snippets(BASE, "acme"):
        assert "envl_" not in snippet.text


def test_public_packages_through_the_proxy():
    advice = public_packages("acme", DEFAULT_UPSTREAM)
    assert advice.proxied
    assert "same URL" in advice.text and "proxies PyPI" in advice.text and "never for its own" in advice.text
    mirror = public_packages("acme", "https://mirror.example.com/simple/")
    assert "proxies https://mirror.example.com/simple/" in mirror.text


def test_without_the_proxy_a_plain_warning():
    advice = public_packages("acme", None)
    assert not advice.proxied
    assert "Do not add PyPI as a second index" in advice.text
    assert "--extra-index-url" in advice.text and "dependency confusion" in advice.text
    assert "upstream proxy" in advice.text


def test_publish_snippets():
    snippets = {s.key: s for s in publish_snippets(BASE, "acme-corp", token="envl_up")}
    assert snippets["twine-env"].text == (
        f"export TWINE_REPOSITORY_URL={LEGACY}\nexport TWINE_USERNAME=__token__\n"
        'export TWINE_PASSWORD="envl_up"\ntwine upload dist/*\n'
    )
    pypirc = ConfigParser()
    pypirc.read_string(snippets["pypirc"].text)
    assert pypirc["distutils"]["index-servers"].split() == ["acme-corp"]
    assert dict(pypirc["acme-corp"]) == {"repository": LEGACY, "username": "__token__", "password": "envl_up"}
    assert "twine upload -r acme-corp dist/*" in snippets["pypirc"].note
    assert snippets["uv-publish"].text == f'export UV_PUBLISH_TOKEN="envl_up"\nuv publish --publish-url {LEGACY} dist/*\n'
    assert snippets["poetry-publish"].text == (
        f"poetry config repositories.acme-corp {LEGACY}\n"
        'poetry config http-basic.acme-corp __token__ "envl_up"\npoetry publish --build -r acme-corp\n'
    )


def test_publish_snippets_without_a_token_carry_the_placeholder():
    for snippet in publish_snippets(BASE, "acme"):
        assert TOKEN_PLACEHOLDER in snippet.text
