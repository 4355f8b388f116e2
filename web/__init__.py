"""Envelope's web face. `create_app` (web/app.py) is imported on first use:
a process that needs only part of this package (web.access_log, say) does
not load Flask and every service (about 30 MB) with it."""
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
