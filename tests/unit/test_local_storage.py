"""Local storage keeps every key inside its root: a key that leads out of it
(`..`, an absolute path) is refused before any file is touched."""
from __future__ import annotations

import pytest

from envelope.storage.local import LocalStorage


def test_keys_stay_inside_the_root(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    storage.put_bytes("ab/cd/name.whl", b"wheel", content_type="application/octet-stream")
    assert storage.local_path("ab/cd/name.whl") == storage.root / "ab" / "cd" / "name.whl"
    assert storage.local_path("ab/../ab/cd/name.whl") == storage.local_path("ab/cd/name.whl")
    assert storage.open("ab/cd/name.whl").read() == b"wheel"
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "files-sibling").mkdir()
    for key in ("../secret", "ab/../../secret", str(tmp_path / "secret"), "../files-sibling/x", "", "."):
        with pytest.raises(ValueError, match="escapes the storage root"):
            storage.local_path(key)
        with pytest.raises(ValueError):
            storage.open(key)
