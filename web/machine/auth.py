"""HTTP Basic authentication for the index, files and upload endpoints.

Failed attempts are rate-limited like the login form's: per client address
and, for passwords, per username. Only failures are counted, so a working
token is never throttled and costs no rate-limit lookup at all. A password is
refused before it is checked once its address or username is over the limit,
so a blocked guesser learns nothing more; tokens are long random secrets that
cannot be guessed, so a valid one works from any address.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from flask import Request, request
from flask_limiter.util import get_remote_address
from limits import parse
from werkzeug.datastructures import Authorization
from werkzeug.utils import cached_property

from envelope.orgs.authentication import authenticate_cached, cache_key, freeze
from envelope.orgs.identity import Caller
from envelope.errors import EnvelopeError, Unauthorized
from envelope.orgs.tokens import PREFIX, mark_used
from web.extensions import limiter
from web.runtime import runtime

log = logging.getLogger(__name__)
FAILURES_PER_ADDRESS = parse("30 per minute")  # failed credentials of any kind from one client address
FAILURES_PER_USERNAME = parse("10 per minute")  # failed passwords for one username, as the login form allows


class LenientAuthorization(Request):
    """A Request whose malformed Authorization header reads as no credentials.

    Werkzeug parses Basic credentials with base64.b64decode, which raises
    ValueError (not the binascii.Error it catches) on a byte outside ASCII:
    one such byte made every authenticated endpoint answer 500. Unreadable
    credentials are no credentials, so the caller gets the usual 401."""

    @cached_property
    def authorization(self) -> Authorization | None:
        try:
            return Authorization.from_header(self.headers.get("Authorization"))
        except ValueError:
            return None


class TooManyFailures(EnvelopeError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-in attempts; try again in {retry_after} seconds.")
        self.retry_after = retry_after  # seconds: web/errors.py sends it as Retry-After


def basic_auth(org_name: str, *, fresh: bool = False) -> Caller:
    """The caller inside `org_name`. No credentials -> 401 with a challenge,
    so pip and keyring know to ask; too many failed ones -> 429 with
    Retry-After; see envelope.orgs.authentication for the rest.

    Reads may use a credential verified a few seconds ago (the auth cache);
    the answering view then passes the organization's current auth epoch to
    confirm(). `fresh` skips the cache, for writes such as uploads."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.password:
        raise Unauthorized("Authentication required: use __token__ and an access token.")
    return caller_for(org_name, credentials.username or "", credentials.password, fresh=fresh)


# Confirms a cached Caller against the organization's current auth epoch: confirm() below in
# Flask's views, web.machine.thin's in the thin path (a moved epoch goes to Flask).
Confirm = Callable[[Caller, int], Caller]


def confirm(org_name: str, caller: Caller, auth_epoch: int) -> Caller:
    """`caller`, if it was verified under the organization's current auth
    epoch (read by the view in the statement that reads the serial); verified
    again otherwise, so a revocation anywhere is honoured on the next request."""
    if caller.auth_epoch == auth_epoch:
        return caller
    return basic_auth(org_name, fresh=True)


def caller_for(org_name: str, username: str, password: str, *, fresh: bool = False) -> Caller:
    """The one front door for Basic and Bearer credentials alike: rate limits
    on failures, the auth cache, and the one place a token's use is recorded."""
    is_token = password.startswith(PREFIX)
    if not is_token:
        _refuse_if_over_limit(_failure_buckets(username, is_token=False))
    rt = runtime()
    ttl = 0 if fresh else rt.settings.auth_cache_seconds
    try:
        verified = authenticate_cached(rt.db, rt.cache, rt.settings.secret_key, ttl, org_name, username, password)
    except Unauthorized:
        _count_failure(_failure_buckets(username, is_token=is_token))
        raise
    if fresh and rt.settings.auth_cache_seconds > 0:
        # What was just verified replaces whatever the cache held.
        rt.cache.set(cache_key(rt.settings.secret_key, org_name, username, password),
                     freeze(verified.caller), rt.settings.auth_cache_seconds)
    if verified.token_use_to_record is not None:
        with rt.db.write() as session:
            mark_used(session, verified.token_use_to_record)
    return verified.caller


Bucket = tuple  # (RateLimitItem, *identifiers)
UNAVAILABLE = "rate-limit storage unavailable: failed sign-ins are not limited for now"


def _failure_buckets(username: str, *, is_token: bool) -> list[Bucket]:
    buckets = [(FAILURES_PER_ADDRESS, "basic-auth-failures", "address", get_remote_address())]
    if not is_token:  # a token's username is anything, usually the shared "__token__"
        buckets.append((FAILURES_PER_USERNAME, "basic-auth-failures", "username", username.lower()))
    return buckets


def _refuse_if_over_limit(buckets: list[Bucket]) -> None:
    """429 when any bucket has no attempt left, before the password is checked."""
    _limit(buckets, lambda item, *keys: limiter.limiter.test(item, *keys))


def _count_failure(buckets: list[Bucket]) -> None:
    """Count a failure in every bucket; 429 instead of 401 once one overflows."""
    _limit(buckets, lambda item, *keys: limiter.limiter.hit(item, *keys))


def _limit(buckets: list[Bucket], allowed) -> None:
    if not limiter.enabled:
        return
    try:
        over = [bucket for bucket in buckets if not allowed(*bucket)]
        reset = max((limiter.limiter.get_window_stats(*bucket).reset_time for bucket in over), default=0)
    except Exception:  # noqa: BLE001 - an unreachable limiter store must not lock everyone out
        log.warning(UNAVAILABLE, exc_info=True)
        return
    if over:
        raise TooManyFailures(max(1, math.ceil(reset - time.time())))
