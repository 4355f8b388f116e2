"""What every command shares: who acts, the instance it acts on, and errors as one sentence."""
from __future__ import annotations

import functools
import getpass
import sys
from typing import Callable, TypeVar

import click

from envelope.config import Settings
from envelope.errors import EnvelopeError
from envelope.runtime import Runtime

T = TypeVar("T")


def actor() -> str:
    return f"cli {getpass.getuser()}"


def open_runtime() -> Runtime:
    """The instance the server uses, schema brought up to date. Refuses
    (NoInstance, naming where it looked) rather than create an empty one:
    only `serve` and `migrate` start an instance."""
    from envelope.config import instance_location
    from envelope.migrate import require_instance, upgrade

    data_dir, database_url = instance_location()
    require_instance(database_url, data_dir)
    settings = Settings.from_env()
    upgrade(settings.database_url)
    return Runtime.from_settings(settings)


def friendly_errors(command: Callable[..., T]) -> Callable[..., T]:
    """EnvelopeError -> one sentence on stderr and exit status 1, no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EnvelopeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def echo_public_url(label: str, settings: Settings, path: str) -> None:
    """Print an absolute URL for others (pip, GitHub); when ENVELOPE_BASE_URL
    is unset its host is only the default, so say how to make it right."""
    click.echo(f"{label}: {settings.base_url}{path}")
    if not settings.base_url_configured:
        click.echo(
            f"ENVELOPE_BASE_URL is not set, so this URL uses {settings.base_url}: set ENVELOPE_BASE_URL "
            "to the address others reach this index at (for a webhook, one GitHub can reach)."
        )
