"""An absolute-form request target routes like its origin form."""
import pytest

from web.request_target import origin_path


@pytest.mark.parametrize(("path_info", "expected"), [
    ("/acme/simple/", "/acme/simple/"),
    ("http://index.example/acme/simple/", "/acme/simple/"),
    ("HTTPS://__token__:envl_secret@index.example:8443/acme/simple/x/", "/acme/simple/x/"),
    ("http://index.example", "/"),
    ("/http://not-a-target/", "/http://not-a-target/"),  # a path that merely contains a URL is left alone
    ("", ""),
])
def test_origin_path(path_info: str, expected: str) -> None:
    assert origin_path(path_info) == expected
