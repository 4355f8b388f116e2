"""GitHub's rate-limit answers, primary and secondary, and when to retry after them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from envelope.github.client import SECONDARY_WAIT, RateLimited, rate_limit

RESET = 1_900_000_000  # an X-RateLimit-Reset epoch
PRIMARY = "API rate limit exceeded for user ID 1."
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@pytest.mark.parametrize(
    ("status", "headers", "message", "wait"),
    [
        # Primary limit: wait for the reset.
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(RESET)}, PRIMARY, "reset"),
        (429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)}, PRIMARY, "reset"),
        # Secondary limits: Retry-After wins, over a bucket that still has requests left too.
        (403, {"Retry-After": "30", "X-RateLimit-Remaining": "4000"}, SECONDARY, 30),
        (429, {"Retry-After": "120"}, "", 120),
        (429, {"retry-after": "0"}, "", 0),
        # No time given: at least a minute.
        (403, {"X-RateLimit-Remaining": "4000"}, SECONDARY, SECONDARY_WAIT),
        (429, {}, "Too Many Requests", SECONDARY_WAIT),
    ],
)
def test_rate_limits_and_when_to_retry(status, headers, message, wait):
    before = datetime.now(timezone.utc)
    limited = rate_limit(status, headers, message)
    assert isinstance(limited, RateLimited) and "rate limit" in str(limited)
    if wait == "reset":
        assert limited.reset_at == datetime.fromtimestamp(RESET, timezone.utc)
    else:
        assert before + timedelta(seconds=wait) <= limited.reset_at <= datetime.now(timezone.utc) + timedelta(
            seconds=wait)


def test_retry_after_as_an_http_date():
    limited = rate_limit(429, {"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"})
    assert limited.reset_at == datetime(2037, 10, 21, 7, 28, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (403, {"X-RateLimit-Remaining": "4999"}, "Resource not accessible by integration"),
        (403, {}, "Must have admin rights to Repository."),
        (404, {"Retry-After": "30"}, "Not Found"),
        (500, {"X-RateLimit-Remaining": "0"}, "Server Error"),
    ],
)
def test_other_errors_are_not_rate_limits(status, headers, message):
    assert rate_limit(status, headers, message) is None
