"""The objects host: signed asset URLs, ranges and download faults, as GitHub's S3 answers them."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.fake_github.records import OBJECTS_BUCKET, Asset, Download, DownloadFault, FakeRepo, S3Error

__all__ = [
    "FakeGitHub",
    "FakeRepo",
    "RecordedRequest",
    "ping_payload",
    "release_event_payload",
    "sign_payload",
    "webhook_body",
    "webhook_headers",
]


class ObjectsHostMixin:
    """Part of FakeGitHub: the release-asset storage host."""

    # ------------------------------------------------------------------ the objects host

    def _signature(self, key: str, amz_date: str, expires: str, repo_id: str) -> str:
        message = f"{key}\n{amz_date}\n{expires}\n{repo_id}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def _signed_object_url(self, repo: FakeRepo, asset: Asset) -> str:
        amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = str(int(self.url_ttl))
        params = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"FAKEGITHUBOBJECTS/{amz_date[:8]}/us-east-1/s3/aws4_request"),
            ("X-Amz-Date", amz_date),
            ("X-Amz-Expires", expires),
            ("X-Amz-Signature", self._signature(asset.key, amz_date, expires, str(repo.id))),
            ("X-Amz-SignedHeaders", "host"),
            ("actor_id", "0"),
            ("key_id", "0"),
            ("repo_id", str(repo.id)),
            ("response-content-disposition", f"attachment; filename={asset.name}"),
            ("response-content-type", "application/octet-stream"),
        ]
        return f"{self.objects_url}/{OBJECTS_BUCKET}/{repo.id}/{asset.key}?{urlencode(params, quote_via=quote)}"

    def _objects_response(self, method: str, target: str, headers: Any) -> Download:
        amz_id = secrets.token_hex(8).upper()
        try:
            with self._lock:
                return self._objects_plan(method, target, headers, amz_id)
        except S3Error as err:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{err.code}</Code><Message>{err.message}</Message>"
                f"<RequestId>{amz_id}</RequestId><HostId>{secrets.token_urlsafe(24)}</HostId></Error>"
            ).encode()
            return Download(err.status, [("Content-Type", "application/xml"), ("x-amz-request-id", amz_id)], body)

    def _objects_plan(self, method: str, target: str, headers: Any, amz_id: str) -> Download:
        if headers.get("Authorization") is not None:
            raise S3Error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
                "string parameter or the Authorization header should be specified",
            )
        fault = self._take_fault("objects", target)
        if fault is not None:
            code = {403: "AccessDenied", 404: "NoSuchKey", 503: "SlowDown"}.get(fault.status, "InternalError")
            raise S3Error(fault.status, code, fault.message or HTTPStatus(fault.status).phrase)
        if method not in ("GET", "HEAD"):
            raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        split = urlsplit(target)
        m = re.fullmatch(rf"/{OBJECTS_BUCKET}/(\d+)/([0-9a-f-]+)", split.path)
        if m is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        repo_id, key = m.group(1), m.group(2)
        amz_date, expires = params.get("X-Amz-Date", ""), params.get("X-Amz-Expires", "")
        expected = self._signature(key, amz_date, expires, repo_id)
        if params.get("repo_id") != repo_id or not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
            raise S3Error(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided.")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            if datetime.now(timezone.utc) > signed_at + timedelta(seconds=int(expires)):
                raise S3Error(403, "AccessDenied", "Request has expired")
        except ValueError:
            raise S3Error(403, "AccessDenied", "Invalid date") from None
        asset_id = self._key_index.get(key)
        if asset_id is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        _, _, asset = self._asset_index[asset_id]
        data = asset.data

        plan = Download(200, [], data, filename=asset.name)
        for fault_ in self._take_download_faults(asset.name):
            if fault_.kind == "slow":
                plan.slow_seconds += fault_.seconds
                plan.slow_before_headers = plan.slow_before_headers or fault_.before_headers
            elif fault_.kind == "garble":
                plan.body = garble(plan.body)
            elif fault_.kind == "short":
                plan.body = plan.body[: len(plan.body) // 2]
            elif fault_.kind == "truncate":
                plan.declared_length = len(plan.body)
                plan.body = plan.body[: len(plan.body) // 2]

        last_modified = formatdate(asset.updated_at.timestamp(), usegmt=True)
        plan.headers = [
            ("x-amz-request-id", amz_id),
            ("Last-Modified", last_modified),
            ("ETag", '"' + hashlib.md5(data).hexdigest() + '"'),
            ("Content-Type", params.get("response-content-type") or "application/octet-stream"),
            ("Content-Disposition", params.get("response-content-disposition") or f"attachment; filename={asset.name}"),
            ("Accept-Ranges", "bytes"),
        ]
        range_header = headers.get("Range")
        if range_header and plan.declared_length is None:
            parsed = parse_range(range_header, len(plan.body))
            if parsed is None:
                raise S3Error(416, "InvalidRange", "The requested range is not satisfiable")
            start, end = parsed
            plan.headers.append(("Content-Range", f"bytes {start}-{end}/{len(plan.body)}"))
            plan.body = plan.body[start : end + 1]
            plan.status = 206
        return plan

    def _take_download_faults(self, filename: str) -> list[DownloadFault]:
        taken = []
        for fault in list(self._download_faults.get(filename, [])):
            taken.append(fault)
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._download_faults[filename].remove(fault)
        return taken


def garble(data: bytes) -> bytes:
    if not data:
        return b"\x00"
    garbled = bytearray(data)
    for index in range(0, len(garbled), 7):
        garbled[index] ^= 0xFF
    return bytes(garbled)


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", value)
    if m is None or (not m.group(1) and not m.group(2)) or size == 0:
        return None
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:  # suffix range: the last N bytes
        start = max(0, size - int(m.group(2)))
        end = size - 1
    end = min(end, size - 1)
    if start > end:
        return None
    return start, end


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True

    def opaque(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return any(opaque(candidate) == opaque(etag) for candidate in if_none_match.split(","))


# ============================================================================ webhooks
