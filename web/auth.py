"""HTTP Basic authentication for the index, files and upload endpoints."""
from __future__ import annotations

from flask import request

from envelope.authentication import Authenticated, authenticate_cached
from envelope.errors import Unauthorized
from envelope.tokens import mark_used
from web.runtime import runtime


def basic_auth(org_name: str, *, fresh: bool = False) -> Authenticated:
    """The caller inside `org_name`. No credentials -> 401 with a challenge,
    so pip and keyring know to ask; see envelope.authentication for the rest.

    Reads may use a credential verified a few seconds ago (the auth cache);
    `fresh` skips it, for writes such as uploads."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.password:
        raise Unauthorized("Authentication required: use __token__ and an access token.")
    rt = runtime()
    ttl = 0 if fresh else rt.settings.auth_cache_seconds
    auth = authenticate_cached(rt.db, rt.cache, rt.settings.secret_key, ttl, org_name,
                               credentials.username or "", credentials.password)
    if auth.token_use_to_record is not None:
        with rt.db.write() as session:
            mark_used(session, auth.token_use_to_record)
    return auth
