"""Objects in an S3 bucket (AWS, MinIO, any S3 API) through boto3.

boto3 reads AWS_ENDPOINT_URL, credentials and region from the environment,
so the same code talks to AWS, MinIO or a test server.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from boto3.exceptions import S3UploadFailedError

from envelope.errors import StorageUnavailable
from envelope.storage.media_types import IMMUTABLE, content_type

# Multipart above 64 MiB: bounded memory for any file size, few parts for
# typical wheels.
TRANSFER = TransferConfig(multipart_threshold=64 * 1024**2, multipart_chunksize=16 * 1024**2)


class S3Storage:
    def __init__(self, bucket: str, *, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.client = boto3.client(
            "s3",
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, signature_version="s3v4"),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _unavailable(self, exc: Exception) -> StorageUnavailable:
        return StorageUnavailable(
            f"File storage is unavailable (S3 bucket {self.bucket!r}: {exc}); nothing was "
            "published, try again later."
        )

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        # A multipart upload becomes visible only when completed: all or nothing.
        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                self._key(key),
                ExtraArgs={"ContentType": content_type, "CacheControl": IMMUTABLE},
                Config=TRANSFER,
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise self._unavailable(exc) from None

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type,
                CacheControl=IMMUTABLE,
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        extra = {}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            extra["Range"] = f"bytes={start}-{end}"
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **extra)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from None
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        return response["Body"]

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def local_path(self, key: str) -> Path | None:
        return None

    def object_key(self, key: str) -> str:
        """The key inside the bucket, prefix included (what a CDN origin sees)."""
        return self._key(key)

    def presigned_url(self, key: str, *, expires_in: int, filename: str) -> str:
        """A GET URL whose response carries the headers Envelope itself would
        send, whatever an older object was stored with. The parameters depend
        on the filename alone, so the URL stays the same within a window."""
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(key),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": content_type(filename),
                "ResponseCacheControl": IMMUTABLE,
            },
            ExpiresIn=expires_in,
        )
