from __future__ import annotations

import pytest

from envelope.storage.media_types import content_type


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("demo-1.0-py3-none-any.whl", "application/zip"),
        ("demo-1.0.tar.gz", "application/gzip"),
        ("demo-1.0.zip", "application/zip"),
        ("demo-1.0-py3-none-any.whl.metadata", "text/plain; charset=utf-8"),
        ("demo-1.0.tar.gz.metadata", "text/plain; charset=utf-8"),
        ("checksums.txt", "application/octet-stream"),
    ],
)
def test_content_type(filename, expected):
    assert content_type(filename) == expected
