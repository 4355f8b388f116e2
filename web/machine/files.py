"""Distribution files and their PEP 658 metadata. Files are immutable, so
they are cached for a year; authorisation is checked on every request,
before any redirect."""
from __future__ import annotations

from flask import Blueprint, Response, redirect, request, send_file, stream_with_context

from envelope.upstream import files as upstream_files
from envelope.index.download_urls import accel_redirect_uri, redirect_url
from envelope.index.downloads import Download, download_for, lookup_file
from envelope.errors import NotFound
from envelope.storage.media_types import IMMUTABLE
from web.machine.auth import basic_auth, confirm
from web.runtime import runtime

bp = Blueprint("files", __name__)

STREAM_CHUNK = 256 * 1024  # bytes


@bp.route("/<org>/files/<sha256>/<filename>", methods=["GET", "HEAD"])
def download(org: str, sha256: str, filename: str) -> Response:
    caller = basic_auth(org)
    rt = runtime()
    with rt.db.autocommit() as connection:
        lookup = lookup_file(connection, caller.organization_id, filename)
    caller = confirm(org, caller, lookup.auth_epoch)
    try:
        item = download_for(lookup, caller, sha256, filename)
    except NotFound:
        # Not a private file: a file of the organization's upstream, if it proxies that name.
        item = upstream_files.find_download(rt, caller.organization_id, caller, sha256, filename)
    if request.method == "HEAD":
        # Answered here: a presigned GET URL would refuse HEAD, and uv sends one.
        return _headers_only(item)
    accel = accel_redirect_uri(rt, item, caller.expires)
    if accel is not None:
        # nginx in front serves the bytes from its internal location; we only authorised.
        response = Response(status=200, content_type=item.content_type)
        response.headers.update({"X-Accel-Redirect": accel, "ETag": f'"{item.etag}"',
                                 "Cache-Control": IMMUTABLE})
        return response
    target = redirect_url(rt, item, caller.expires)
    if target is not None:
        response = redirect(target, code=302)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    path = rt.storage.local_path(item.key)
    if path is None:
        return _stream(item)
    response = send_file(path, mimetype=item.content_type, conditional=True, etag=item.etag,
                         max_age=None, download_name=item.download_name)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Content-Type"] = item.content_type  # as stored; Werkzeug would add a second charset
    return response


def _headers_only(item: Download) -> Response:
    response = Response(status=200, content_type=item.content_type)
    response.headers.update({"Content-Length": str(item.size), "ETag": f'"{item.etag}"',
                             "Cache-Control": IMMUTABLE})
    response.automatically_set_content_length = False
    return response


def _stream(item: Download) -> Response:
    """Remote storage without redirects (private networks): pass the bytes through."""
    if request.if_none_match and item.etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{item.etag}"', "Cache-Control": IMMUTABLE})
    body = runtime().storage.open(item.key)

    def chunks():
        try:
            while chunk := body.read(STREAM_CHUNK):
                yield chunk
        finally:
            body.close()

    response = Response(stream_with_context(chunks()), content_type=item.content_type)
    response.headers.update({"Content-Length": str(item.size), "ETag": f'"{item.etag}"',
                             "Cache-Control": IMMUTABLE})
    return response
