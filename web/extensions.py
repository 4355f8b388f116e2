"""Flask extensions shared by the UI blueprints, bound in create_app."""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Storage comes from ENVELOPE_RATELIMIT_STORAGE_URL (memory:// by default,
# redis://… in production so every web process shares the counts).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
