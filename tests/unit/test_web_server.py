"""The web command line's gunicorn, as `envelope process web` and `envelope
serve` run it: its request parser is gunicorn_h1c's C parser, not the pure
Python one, which cost about a tenth of an index page's time (bench/README.md).
gunicorn falls back to Python without a word when the extension is missing
or a setting rules it out, so only this test would notice."""
from __future__ import annotations

from gunicorn.config import Config
from gunicorn.http import message

from cli.processes import command
from envelope.config import Settings


def test_the_web_server_parses_requests_in_c(tmp_path) -> None:
    argv = command("web", Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path)}))
    assert argv[1:3] == ["-m", "gunicorn"]
    config = Config()
    for name, value in vars(config.parser().parse_args(argv[3:])).items():
        if name in config.settings and value is not None:
            config.set(name, value)
    assert message._check_fast_parser(config) is True
