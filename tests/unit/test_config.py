"""Settings that decide where links point and which hosts are answered."""
from __future__ import annotations

import socket

import pytest

from envelope.config import DEFAULT_BASE_URL, Settings, served_base_url


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8080, "http://127.0.0.1:8080"),
        ("pypi.internal", 9000, "http://pypi.internal:9000"),
        ("::1", 8080, "http://[::1]:8080"),
        ("[::1]", 8080, "http://[::1]:8080"),
        ("0.0.0.0", 8080, f"http://{socket.gethostname()}:8080"),
        ("::", 8080, f"http://{socket.gethostname()}:8080"),
    ],
)
def test_served_base_url(host, port, expected):
    assert served_base_url(host, port) == expected


def test_base_url_defaults_and_validation(tmp_path):
    env = {"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SECRET_KEY": "k" * 40}
    assert Settings.from_env(env).base_url == DEFAULT_BASE_URL
    assert Settings.from_env(env, default_base_url="http://h:1").base_url == "http://h:1"
    given = Settings.from_env({**env, "ENVELOPE_BASE_URL": "https://pypi.example.com/"})
    assert given.base_url == "https://pypi.example.com"
    with pytest.raises(ValueError, match="ENVELOPE_BASE_URL"):
        Settings.from_env({**env, "ENVELOPE_BASE_URL": "pypi.example.com"})


def test_trusted_hosts_are_a_lowercased_list(tmp_path):
    env = {"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_SECRET_KEY": "k" * 40}
    assert Settings.from_env(env).trusted_hosts == ()
    hosts = Settings.from_env({**env, "ENVELOPE_TRUSTED_HOSTS": " Good.Example, .corp.example ,"}).trusted_hosts
    assert hosts == ("good.example", ".corp.example")
