"""GitHub's rate-limit answers, primary and secondary, and when to retry after
them; asset digests; GitHub's web root for an API root."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from envelope.config import github_web_url
from envelope.github.client import SECONDARY_WAIT, Asset, DigestMismatch, RateLimited, digest_matches, rate_limit

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


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        ("sha256:" + hashlib.sha256(b"wheel").hexdigest(), True),
        ("SHA256:" + hashlib.sha256(b"wheel").hexdigest().upper(), True),
        (None, False),  # older GitHub Enterprise Server: accepted, unverified
        ("", False),
    ],
)
def test_digest_matches(digest, expected):
    asset = Asset(1, "a-1-py3-none-any.whl", 5, "", "https://api.github.com/x", digest)
    assert digest_matches(asset, hashlib.sha256(b"wheel").hexdigest()) is expected


@pytest.mark.parametrize(
    "digest", ["sha256:" + "0" * 64, "sha512:" + hashlib.sha256(b"wheel").hexdigest(), "sha256", "garbage"]
)
def test_digest_mismatch_is_refused(digest):
    asset = Asset(1, "a-1-py3-none-any.whl", 5, "", "https://api.github.com/x", digest)
    with pytest.raises(DigestMismatch, match="not published"):
        digest_matches(asset, hashlib.sha256(b"wheel").hexdigest())


@pytest.mark.parametrize(
    ("api_url", "web_url"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_github_web_url(api_url, web_url):
    assert github_web_url(api_url) == web_url
