"""Access to the app's Runtime from inside a request."""
from __future__ import annotations

from flask import current_app

from envelope.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["envelope"]
