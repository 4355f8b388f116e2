"""Flask extensions shared by the UI blueprints, bound in create_app."""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Storage comes from Settings.ratelimit_storage_url (Redis or the database,
# envelope/accounts/ratelimit.py) so every web process and node shares the counts.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
