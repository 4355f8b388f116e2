"""Environments and commands for the clients and the CLI: only the index under test answers."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class CommandFailed(subprocess.CalledProcessError):
    """CalledProcessError whose message includes stdout and stderr, so test failures explain themselves."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()}\n--- stdout ---\n{self.stdout or ''}\n--- stderr ---\n{self.stderr or ''}"
        )


# Inherited variables that would point a server under test at someone else's data.
_SCRUBBED_PREFIXES = ("ENVELOPE_", "AWS_", "CELERY_", "PIP_", "UV_", "TWINE_")
_SCRUBBED_NAMES = {"DATABASE_URL", "REDIS_URL", "FLASK_APP", "FLASK_DEBUG", "FLASK_ENV"}


def scrubbed_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ minus anything that configures Envelope, AWS, Celery, pip, uv or twine."""
    source = os.environ if base is None else base
    return {
        k: v
        for k, v in source.items()
        if k not in _SCRUBBED_NAMES and not k.startswith(_SCRUBBED_PREFIXES)
    }


_KEPT_PIP_VARS = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT"}


def client_environ(base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for pip / uv / twine subprocesses that sees only the index we point them at.

    Drops the machine's PIP_FIND_LINKS and every other PIP_*/UV_*/TWINE_* setting,
    disables config files, and makes every tool non-interactive: a prompt for
    credentials would otherwise hang the test instead of failing it.
    """
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if k in _KEPT_PIP_VARS or not k.startswith(("PIP_", "UV_", "TWINE_"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_NO_CACHE="1",
        UV_NO_PROGRESS="1",
        TWINE_NON_INTERACTIVE="1",
        # keyring (installed with twine) must not consult a desktop secret store.
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    env.update(extra or {})
    return env


def run_checked(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | str | None = None, timeout: float = 300,
    input: str | None = None,  # noqa: A002
) -> subprocess.CompletedProcess[str]:
    """subprocess.run in text mode that raises ``CommandFailed`` (with output) on a non-zero exit."""
    result = subprocess.run(
        list(argv), env=dict(env), cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise CommandFailed(result.returncode, result.args, result.stdout, result.stderr)
    return result
