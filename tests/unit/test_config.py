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


def _checkout(root, name: str = "envelope-index"):
    (root / "envelope").mkdir(parents=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')
    return root / "envelope"


def test_default_data_dir_is_the_checkouts_var_wherever_the_command_runs(tmp_path, monkeypatch):
    from envelope.config import checkout_root, default_data_dir

    package = _checkout(tmp_path / "checkout")
    monkeypatch.chdir(tmp_path)
    assert checkout_root(package) == tmp_path / "checkout"
    assert default_data_dir(package) == tmp_path / "checkout" / "var"
    assert not (tmp_path / "checkout" / "var").exists()  # finding it creates nothing


def test_default_data_dir_outside_a_checkout_is_var_in_the_current_folder(tmp_path, monkeypatch):
    from envelope.config import default_data_dir

    installed = tmp_path / "site-packages" / "envelope"  # a regular install: no pyproject.toml above it
    installed.mkdir(parents=True)
    other = _checkout(tmp_path / "another-project", name="something-else")
    monkeypatch.chdir(tmp_path)
    assert default_data_dir(installed) == tmp_path / "var"
    assert default_data_dir(other) == tmp_path / "var"


def test_the_installed_package_finds_this_checkout():
    from pathlib import Path

    import envelope
    from envelope.config import checkout_root

    assert checkout_root() == Path(envelope.__file__).resolve().parent.parent


def test_serve_gives_its_children_the_data_dir_it_resolved(tmp_path):
    from envelope.config import served_environ

    settings = Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path / "d"), "ENVELOPE_SECRET_KEY": "k" * 40})
    assert served_environ(settings)["ENVELOPE_DATA_DIR"] == str(tmp_path / "d")
