"""Envelope's web face. `create_app` (web/app.py) is imported on first use:
gunicorn's master process loads web.access_log from this package and, with
the app imported here, would hold Flask and every service (about 30 MB) it
never runs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
