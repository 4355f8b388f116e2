"""One storage contract, run against every backend: local disk and S3 over HTTP."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from envelope.storage import Storage, content_addressed_key, storage_from_url


@pytest.fixture(params=["file", "s3"])
def storage(request, tmp_path: Path, monkeypatch) -> Storage:
    if request.param == "file":
        return storage_from_url(f"file://{tmp_path / 'files'}")
    moto = request.getfixturevalue("moto_s3")
    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(bucket)
    for name, value in moto.env.items():
        monkeypatch.setenv(name, value)
    return storage_from_url(f"s3://{bucket}/some/prefix")


def test_put_file_then_read_back_streams(storage: Storage, tmp_path: Path) -> None:
    payload = os.urandom(3 * 1024**2 + 17)
    source = tmp_path / "payload.whl"
    source.write_bytes(payload)
    key = content_addressed_key(hashlib.sha256(payload).hexdigest(), source.name)
    assert not storage.exists(key)
    storage.put_file(key, source, content_type="application/zip")
    assert storage.exists(key)
    with storage.open(key) as stream:
        chunks = []
        while chunk := stream.read(64 * 1024):
            chunks.append(chunk)
    assert b"".join(chunks) == payload


def test_put_bytes_and_overwrite_same_key(storage: Storage) -> None:
    storage.put_bytes("a/b/meta.metadata", b"Name: x\n", content_type="text/plain")
    storage.put_bytes("a/b/meta.metadata", b"Name: x\n", content_type="text/plain")
    with storage.open("a/b/meta.metadata") as stream:
        assert stream.read() == b"Name: x\n"


def test_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.open("no/such/key")
    assert storage.exists("no/such/key") is False
    storage.delete("no/such/key")  # not an error


def test_delete_removes_the_object(storage: Storage) -> None:
    storage.put_bytes("x/y", b"data", content_type="application/octet-stream")
    storage.delete("x/y")
    assert not storage.exists("x/y")


def test_content_addressed_keys_never_collide() -> None:
    a = content_addressed_key("ab" * 32, "pkg-1.0-py3-none-any.whl")
    b = content_addressed_key("cd" * 32, "pkg-1.0-py3-none-any.whl")
    assert a != b and a.endswith("/pkg-1.0-py3-none-any.whl") and a.startswith("ab/ab/")


def test_local_storage_refuses_keys_that_escape(tmp_path: Path) -> None:
    storage = storage_from_url(f"file://{tmp_path / 'files'}")
    with pytest.raises(ValueError):
        storage.put_bytes("../../escape", b"x", content_type="text/plain")
    assert not (tmp_path / "escape").exists()


def test_local_write_leaves_no_temp_files(tmp_path: Path) -> None:
    storage = storage_from_url(f"file://{tmp_path / 'files'}")
    storage.put_bytes("k/one", b"1", content_type="text/plain")
    leftovers = [p for p in (tmp_path / "files").rglob(".tmp-*")]
    assert leftovers == []
