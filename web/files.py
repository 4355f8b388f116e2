"""Distribution files and their PEP 658 metadata. Files are immutable, so
they are cached for a year; authorisation is checked on every request."""
from __future__ import annotations

from flask import Blueprint, Response, request, send_file, stream_with_context

from envelope.downloads import find_download
from web.auth import basic_auth
from web.runtime import runtime

bp = Blueprint("files", __name__)

IMMUTABLE = "private, max-age=31536000, immutable"
STREAM_CHUNK = 256 * 1024  # bytes


@bp.get("/<org>/files/<sha256>/<filename>")
def download(org: str, sha256: str, filename: str) -> Response:
    auth = basic_auth(org)
    with runtime().db.read() as session:
        item = find_download(session, auth.organization, auth.principal, sha256, filename)
    storage = runtime().storage
    path = storage.local_path(item.key)
    if path is not None:
        response = send_file(
            path,
            mimetype=item.content_type,
            conditional=True,
            etag=item.etag,
            max_age=None,
            download_name=item.download_name,
        )
    else:
        response = _stream(item)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _stream(item) -> Response:
    """S3 and other remote storage: pass the bytes through in chunks."""
    headers = {"Content-Length": str(item.size), "ETag": f'"{item.etag}"'}
    if request.if_none_match and item.etag in request.if_none_match:
        return Response(status=304, headers={"ETag": headers["ETag"]})
    if request.method == "HEAD":
        return Response(status=200, headers=headers, content_type=item.content_type)
    body = runtime().storage.open(item.key)

    def chunks():
        try:
            while chunk := body.read(STREAM_CHUNK):
                yield chunk
        finally:
            body.close()

    return Response(
        stream_with_context(chunks()), headers=headers, content_type=item.content_type
    )
