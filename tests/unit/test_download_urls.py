"""Redirect URLs are identical within a window and never outlive the token."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from envelope.cache import MemoryCache
from envelope.config import Settings
from envelope.index.download_urls import cdn_url, cloudfront_signer, presigned_s3_url, url_lifetime, window_start
from envelope.storage.s3 import S3Storage

WINDOW = 3600
T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never contacted: signing is local
    return Settings.from_env({"ENVELOPE_DATA_DIR": str(tmp_path), "ENVELOPE_DOWNLOAD_URL_WINDOW": str(WINDOW),
                              "ENVELOPE_CDN_URL": "https://cdn.example.com"})


@pytest.fixture
def storage(settings) -> S3Storage:
    return S3Storage("bucket", prefix="files")


@pytest.fixture
def cache() -> MemoryCache:
    return MemoryCache()


def sign(storage, settings, cache, now, expires=None) -> str:
    return presigned_s3_url(storage, "ab/cd/x/pkg-1.0-py3-none-any.whl", filename="pkg-1.0-py3-none-any.whl",
                            settings=settings, cache=cache, token_expires=expires, now=now)


def test_same_url_within_a_window_new_one_after(storage, settings, cache) -> None:
    first = sign(storage, settings, cache, T0 + timedelta(minutes=1))
    assert first == sign(storage, settings, cache, T0 + timedelta(minutes=59))
    after = sign(storage, settings, cache, T0 + timedelta(minutes=62))
    assert first != after and parse_qs(urlsplit(after).query)["X-Amz-Expires"] == [str(3 * WINDOW - 62 * 60)]
    query = parse_qs(urlsplit(first).query)
    # Made a minute into the window: valid until the end of the next one, as if signed at its start.
    assert query["X-Amz-Expires"] == [str(2 * WINDOW - 60)]
    assert "pkg-1.0-py3-none-any.whl" in query["response-content-disposition"][0]
    assert query["response-content-type"] == ["application/zip"]
    assert query["response-cache-control"] == ["private, max-age=31536000, immutable"]


def test_signing_uses_botocore_unchanged(storage, settings, cache) -> None:
    """No clock of botocore's is replaced: a URL is stamped with the real time."""
    import botocore.auth

    before = botocore.auth.get_current_datetime
    url = sign(storage, settings, cache, datetime.now(timezone.utc))
    assert botocore.auth.get_current_datetime is before
    stamped = datetime.strptime(parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    assert abs(stamped.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_url_never_outlives_the_token(storage, settings, cache) -> None:
    expires = T0 + timedelta(minutes=30)
    url = sign(storage, settings, cache, T0 + timedelta(minutes=5), expires=expires)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == [str(25 * 60)]
    assert sign(storage, settings, cache, T0 + timedelta(minutes=29, seconds=30), expires=expires) is None


def test_tokens_with_other_expiries_get_their_own_urls(storage, settings, cache) -> None:
    now = T0 + timedelta(minutes=5)
    short = sign(storage, settings, cache, now, expires=T0 + timedelta(minutes=30))
    unlimited = sign(storage, settings, cache, now)
    assert short != unlimited
    assert parse_qs(urlsplit(unlimited).query)["X-Amz-Expires"] == [str(2 * WINDOW - 5 * 60)]


@pytest.mark.parametrize("now_minutes, expected_seconds", [(0, 2 * WINDOW), (59, 2 * WINDOW)])
def test_lifetime_covers_the_rest_of_the_window(now_minutes, expected_seconds) -> None:
    start, seconds = url_lifetime(T0 + timedelta(minutes=now_minutes), WINDOW, None)
    assert start == T0 == window_start(T0 + timedelta(minutes=now_minutes), WINDOW)
    assert seconds == expected_seconds


def test_signed_cdn_urls_are_stable_and_bounded(settings, tmp_path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "cdn.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    signer = cloudfront_signer("K2JCJMDEHXQW5F", str(pem))
    a = cdn_url(settings, "files/ab/x.whl", token_expires=None, signer=signer, now=T0 + timedelta(minutes=3))
    b = cdn_url(settings, "files/ab/x.whl", token_expires=None, signer=signer, now=T0 + timedelta(minutes=50))
    assert a == b and a.startswith("https://cdn.example.com/files/ab/x.whl?")
    query = parse_qs(urlsplit(a).query)
    assert query["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    assert int(query["Expires"][0]) == int((T0 + timedelta(seconds=2 * WINDOW)).timestamp())
    unsigned = cdn_url(settings, "files/ab/x.whl", token_expires=None, signer=None)
    assert unsigned == "https://cdn.example.com/files/ab/x.whl"
