"""The legacy upload API that twine speaks: POST /{org}/legacy/."""
from __future__ import annotations

from flask import Blueprint, Response, request

from envelope.errors import InvalidInput
from envelope.models import FileSource
from envelope.packaging.publish import publish_file
from web.machine.auth import basic_auth
from web.runtime import runtime

bp = Blueprint("upload", __name__)

# Form field -> our digest name. twine sends all three.
DIGEST_FIELDS = {"sha256_digest": "sha256", "blake2_256_digest": "blake2b_256", "md5_digest": "md5"}


@bp.post("/<org>/legacy/")
@bp.post("/<org>/legacy")
def upload(org: str) -> Response:
    caller = basic_auth(org, fresh=True)
    action = request.form.get(":action")
    if action != "file_upload":
        raise InvalidInput(f"Unsupported :action {action!r}: only file_upload is supported.")
    content = request.files.get("content")
    if content is None or not content.filename:
        raise InvalidInput("Upload a file in the 'content' field.")
    expected = {
        ours: request.form[field] for field, ours in DIGEST_FIELDS.items() if request.form.get(field)
    }
    rt = runtime()
    result = publish_file(
        rt.db,
        rt.storage,
        organization=caller.organization,
        principal=caller,
        filename=content.filename,  # as sent: a path in it is refused, never trimmed
        stream=content.stream,
        source=FileSource.upload,
        spool_dir=rt.settings.tmp_dir,
        max_size=rt.settings.max_file_size,
        expected=expected,
        attestations=request.form.get("attestations"),  # PEP 740, sent by twine --attestations and uv publish
    )
    message = "OK" if result.created else "OK (already published, nothing changed)"
    return Response(message + "\n", mimetype="text/plain")
