"""Where a client is sent to fetch a file: a presigned S3 URL, a (signed) CDN
URL, or nowhere (the web process streams it).

pip and uv cache downloads by URL, so a URL signed afresh on every request
defeats their caches. Time is cut into fixed windows: a CDN URL is signed
for the window (a canned policy depends only on the URL and its expiry, so
every process computes the same one); a presigned S3 URL, whose signature
also carries the moment it was made, is made once per window and kept in
the page cache, so every request within the window gets the same URL from
each cache (one per web process with the in-process cache, one for all with
ENVELOPE_CACHE_URL=redis://…). Either stays valid until the end of the next
window, and never past the expiry of the token that asked for it.
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from envelope.cache import Cache
from envelope.config import Settings
from envelope.models.base import utcnow

if TYPE_CHECKING:
    from botocore.signers import CloudFrontSigner

MAX_S3_PRESIGN = 7 * 24 * 3600  # seconds: S3's own limit for SigV4 query signatures
MIN_VALIDITY = 60  # seconds: below this a redirect is not worth it; stream instead


def window_start(now: datetime, window: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window, timezone.utc)


def url_lifetime(now: datetime, window: int, token_expires: datetime | None) -> tuple[datetime, int] | None:
    """(signing time, seconds valid from then), or None when the caller's
    token expires too soon for a redirect to be worth it."""
    start = window_start(now, window)
    seconds = min(2 * window, MAX_S3_PRESIGN)
    if token_expires is not None:
        seconds = min(seconds, int((token_expires - start).total_seconds()))
    if start + timedelta(seconds=seconds) - now < timedelta(seconds=MIN_VALIDITY):
        return None
    return start, seconds


def presigned_s3_url(storage, key: str, *, filename: str, settings: Settings, cache: Cache,
                     token_expires: datetime | None, now: datetime | None = None) -> str | None:
    """The window's presigned URL for `key`, made now if the cache has none.

    It expires when a URL signed at the window's start would have: the end
    of the next window, or the token's expiry if sooner."""
    now = now or utcnow()
    lifetime = url_lifetime(now, settings.download_url_window, token_expires)
    if lifetime is None:
        return None
    start, seconds = lifetime
    expires_at = start + timedelta(seconds=seconds)
    cache_key = f"presigned:{key}:{filename}:{int(expires_at.timestamp())}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached.decode()
    url = storage.presigned_url(key, expires_in=int((expires_at - now).total_seconds()), filename=filename)
    window_end = start + timedelta(seconds=settings.download_url_window)
    cache.set(cache_key, url.encode(), max(1.0, (window_end - now).total_seconds()))
    return url


def cdn_url(settings: Settings, object_key: str, *, token_expires: datetime | None,
            signer: CloudFrontSigner | None, now: datetime | None = None) -> str | None:
    url = f"{settings.cdn_url}/{quote(object_key)}"
    if signer is None:
        return url
    lifetime = url_lifetime(now or utcnow(), settings.download_url_window, token_expires)
    if lifetime is None:
        return None
    start, seconds = lifetime
    # A canned policy depends only on the URL and the expiry: same inputs, same URL.
    return signer.generate_presigned_url(url, date_less_than=start + timedelta(seconds=seconds))


def accel_redirect_uri(runtime, download, token_expires: datetime | None) -> str | None:
    """The internal URI nginx should serve `download` from (X-Accel-Redirect),
    or None when Envelope is not behind nginx (ENVELOPE_ACCEL_REDIRECT_PREFIX).

    Local storage: PREFIX/KEY, an internal location aliasing the files
    directory. S3: PREFIX + the path and query of a presigned URL (path-style),
    an internal location proxying to the S3 endpoint; nginx fetches at once,
    so the URL's lifetime only has to cover that request."""
    prefix = runtime.settings.accel_redirect_prefix
    if not prefix:
        return None
    if runtime.storage.local_path(download.key) is not None:
        return f"{prefix}/{download.key}"
    if not hasattr(runtime.storage, "presigned_url"):
        return None
    url = presigned_s3_url(runtime.storage, download.key, filename=download.download_name,
                           settings=runtime.settings, cache=runtime.cache, token_expires=token_expires)
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{prefix}{parts.path}?{parts.query}"


def redirect_url(runtime, download, token_expires: datetime | None) -> str | None:
    """Where to send the client for `download`, or None to serve it directly."""
    settings = runtime.settings
    if settings.downloads != "redirect":
        return None
    if settings.cdn_url and hasattr(runtime.storage, "object_key"):
        signer = cloudfront_signer(settings.cdn_key_id, settings.cdn_private_key_file)
        return cdn_url(settings, runtime.storage.object_key(download.key),
                       token_expires=token_expires, signer=signer)
    if hasattr(runtime.storage, "presigned_url"):
        return presigned_s3_url(runtime.storage, download.key, filename=download.download_name,
                                settings=settings, cache=runtime.cache, token_expires=token_expires)
    return None


@functools.cache
def cloudfront_signer(key_id: str | None, private_key_file: str | None) -> CloudFrontSigner | None:
    if not (key_id and private_key_file):
        return None
    # Here, not at the top: botocore is ~20 MB that only a CloudFront setup needs.
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with open(private_key_file, "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)

    def rsa_signer(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # CloudFront requires SHA-1

    return CloudFrontSigner(key_id, rsa_signer)
