"""Distribution files and their PEP 658 metadata. Files are immutable, so
they are cached for a year; authorisation is checked on every request,
before any redirect. Every way of serving supports ranges (this process for
local files and streamed S3 objects, S3 or the CDN after a redirect, nginx
after X-Accel-Redirect), so every answer says `Accept-Ranges: bytes`, and a
HEAD answers with exactly the headers a GET would carry."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO

from flask import Blueprint, Response, request
from werkzeug import Request
from werkzeug.utils import redirect
from werkzeug.wsgi import wrap_file

from envelope import usage
from envelope.errors import NotFound
from envelope.index.download_urls import accel_redirect_uri, redirect_url
from envelope.index.downloads import Download, download_for, lookup_file
from envelope.orgs.identity import Caller
from envelope.runtime import Runtime
from envelope.storage.media_types import IMMUTABLE
from envelope.upstream import files as upstream_files
from web.machine.auth import Confirm, basic_auth, confirm
from web.machine.conditional import ByteRange, Unsatisfiable, Validators, not_modified, requested_range
from web.runtime import runtime

bp = Blueprint("files", __name__)

STREAM_CHUNK = 256 * 1024  # bytes


@bp.route("/<org>/files/<sha256>/<filename>", methods=["GET", "HEAD"])
def download(org: str, sha256: str, filename: str) -> Response:
    caller = basic_auth(org)
    rt = runtime()

    def upstream(confirmed: Caller) -> Download:
        # Not a private file: a file of the organization's upstream, if it proxies that name.
        return upstream_files.find_download(rt, confirmed.organization_id, confirmed, sha256, filename)

    return file_answer(rt, caller, lambda c, epoch: confirm(org, c, epoch), request, sha256, filename, upstream)


def file_answer(rt: Runtime, caller: Caller, confirm_caller: Confirm, request: Request, sha256: str,
                filename: str, upstream: Callable[[Caller], Download]) -> Response:
    """The answer to GET or HEAD of /files/{sha256}/{filename}, without
    Flask: the view above calls it, and so does web/machine/thin.py for
    credentials in the auth cache, so both send the same bytes and count
    the same downloads. The caller is confirmed in the statement that finds
    the file; `upstream` answers, with the confirmed caller, for a file that
    is not this caller's to read here."""
    with rt.db.hot() as connection:
        lookup = lookup_file(connection, caller.organization_id, filename)
    caller = confirm_caller(caller, lookup.auth_epoch)
    try:
        item = download_for(lookup, caller, sha256, filename)
    except NotFound:
        item = upstream(caller)
    validators = Validators(item.etag, item.modified)
    if not_modified(request, validators):
        # Before any redirect: the client's copy is good, and S3's own ETag is not the sha256.
        return Response(status=304, headers={**validators.headers(), "Cache-Control": IMMUTABLE})
    if request.method == "HEAD":
        # Answered here: a presigned GET URL would refuse HEAD, and uv sends one.
        return _headers_only(item, validators)
    usage.admit_download(rt.db, caller.organization_id, item.file_id)
    response = _deliver(rt, request, item, validators, caller.expires)
    # Once the answer is ready: a file missing from storage (404) is not a download.
    usage.count_download(rt.db, item.file_id, caller.token_id, caller.user_id, item.size,
                         ranged="Range" in request.headers)
    return response


def _deliver(rt: Runtime, request: Request, item: Download, validators: Validators,
             token_expires: datetime | None) -> Response:
    """The bytes, or where to get them: nginx's internal location, a redirect, or this process."""
    accel = accel_redirect_uri(rt, item, token_expires)
    if accel is not None:
        # nginx in front serves the bytes (and ranges) from its internal location; we only authorised.
        response = Response(status=200, content_type=item.content_type)
        response.headers.update({"X-Accel-Redirect": accel, **validators.headers(), "Cache-Control": IMMUTABLE})
        return response
    target = redirect_url(rt, item, token_expires)
    if target is not None:
        response = redirect(target, code=302, Response=Response)  # S3 and CDNs answer the Range header themselves
        response.headers["Cache-Control"] = "private, no-store"
        return response
    try:
        byte_range = requested_range(request, validators, item.size)
    except Unsatisfiable:
        return _unsatisfiable(item, validators)
    return _serve(rt, request.environ, item, validators, byte_range)


def _file_headers(item: Download, validators: Validators) -> dict[str, str]:
    """What every 200, 206 and HEAD answer carries."""
    return {
        **validators.headers(),
        "Content-Type": item.content_type,  # as stored
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{item.download_name}"',
    }


def _headers_only(item: Download, validators: Validators) -> Response:
    response = Response(status=200)
    response.headers.update({**_file_headers(item, validators), "Content-Length": str(item.size)})
    response.automatically_set_content_length = False
    return response


def _unsatisfiable(item: Download, validators: Validators) -> Response:
    response = Response(f"The range asked for starts past the end of {item.download_name} "
                        f"({item.size} bytes).\n", status=416, content_type="text/plain; charset=utf-8")
    response.headers.update({**validators.headers(), "Content-Range": f"bytes */{item.size}"})
    return response


def _serve(rt: Runtime, environ: dict, item: Download, validators: Validators,
           byte_range: ByteRange | None) -> Response:
    """The whole file (200) or one range of it (206), from local disk or streamed from storage."""
    storage = rt.storage
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, item.size)
    try:
        path = storage.local_path(item.key)
        if path is not None and byte_range is None:
            body = wrap_file(environ, open(path, "rb"), STREAM_CHUNK)  # the server's file wrapper where it has one
        else:
            body = _chunks(storage.open(item.key, start=start, length=length if byte_range else None), length)
    except FileNotFoundError:
        raise NotFound("Not Found") from None
    response = Response(body, status=206 if byte_range else 200, direct_passthrough=True)
    response.headers.update({**_file_headers(item, validators), "Content-Length": str(length)})
    if byte_range is not None:
        response.headers["Content-Range"] = byte_range.content_range(item.size)
    return response


def _chunks(stream: BinaryIO, length: int) -> Iterator[bytes]:
    """Exactly `length` bytes of `stream` (fewer only if it ends early), then close it."""
    try:
        remaining = length
        while remaining > 0 and (chunk := stream.read(min(STREAM_CHUNK, remaining))):
            remaining -= len(chunk)
            yield chunk
    finally:
        stream.close()
