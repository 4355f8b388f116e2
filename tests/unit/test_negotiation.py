from __future__ import annotations

import pytest

from web.machine.negotiation import V1_HTML, V1_JSON, accepts_gzip, choose_format, is_json

HTML = "text/html; charset=utf-8"
PIP = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
UV = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(None, HTML, id="no-header"),
        pytest.param("", HTML, id="empty"),
        pytest.param("   ", HTML, id="blank"),
        pytest.param("*/*", HTML, id="anything"),
        pytest.param("text/html", HTML, id="text-html"),
        pytest.param("TEXT/HTML", HTML, id="text-html-uppercase"),
        pytest.param("text/*", HTML, id="text-wildcard"),
        pytest.param(BROWSER, HTML, id="browser"),
        pytest.param(PIP, V1_JSON, id="pip"),
        pytest.param(UV, V1_JSON, id="uv"),
        pytest.param("application/vnd.pypi.simple.v1+json", V1_JSON, id="v1-json"),
        pytest.param("application/vnd.pypi.simple.latest+json", V1_JSON, id="latest-json-served-as-v1"),
        pytest.param("application/vnd.pypi.simple.v1+html", V1_HTML, id="v1-html"),
        pytest.param("application/vnd.pypi.simple.latest+html", V1_HTML, id="latest-html-served-as-v1"),
        pytest.param("application/*", V1_HTML, id="application-wildcard"),
        pytest.param("text/html;q=0.5, application/vnd.pypi.simple.v1+json", V1_JSON, id="q-prefers-json"),
        pytest.param("application/vnd.pypi.simple.v1+json;q=0.5, text/html", HTML, id="q-prefers-html"),
        # q=0 means "not acceptable", even where a wildcard would otherwise allow it.
        pytest.param("application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.5", HTML, id="json-excluded"),
        pytest.param("*/*, text/html;q=0", V1_HTML, id="html-excluded-under-wildcard"),
        pytest.param("text/html;q=0, */*", V1_HTML, id="html-excluded-first"),
        pytest.param(
            "*/*, text/html;q=0, application/vnd.pypi.simple.v1+html;q=0, "
            "application/vnd.pypi.simple.latest+html;q=0",
            V1_JSON,
            id="all-html-excluded",
        ),
        # Nothing we serve: the caller answers 406.
        pytest.param("image/png", None, id="image"),
        pytest.param("application/json", None, id="plain-json"),
        pytest.param("application/vnd.pypi.simple.v2+json", None, id="unknown-api-version"),
        pytest.param("*/*;q=0", None, id="everything-excluded"),
        pytest.param("text/html;q=0", None, id="only-html-excluded"),
        pytest.param("garbage", None, id="garbage"),
    ],
)
def test_choose_format(accept, expected):
    assert choose_format(accept) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [(V1_JSON, True), (V1_HTML, False), (HTML, False), ("application/json", False)],
)
def test_is_json(content_type, expected):
    assert is_json(content_type) is expected


def test_json_choice_is_recognised_as_json():
    assert is_json(choose_format(PIP))
    assert not is_json(choose_format(None))


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        pytest.param(None, False, id="no-header"),
        pytest.param("", False, id="empty"),
        pytest.param("gzip", True, id="pip-and-uv"),
        pytest.param("gzip, deflate, br, zstd", True, id="requests-and-browsers"),
        pytest.param("GZIP;q=0.5", True, id="case-and-quality"),
        pytest.param("x-gzip", True, id="old-alias"),
        pytest.param("gzip;q=0", False, id="gzip-refused"),
        pytest.param("gzip;q=0.000", False, id="gzip-refused-long-zero"),
        pytest.param("identity", False, id="identity-only"),
        pytest.param("identity;q=0", False, id="identity-refused-gzip-not-offered"),
        pytest.param("br, deflate", False, id="other-codings"),
        pytest.param("*", True, id="anything"),
        pytest.param("br, *;q=0.1", True, id="wildcard-covers-gzip"),
        pytest.param("*;q=0", False, id="wildcard-refused"),
        pytest.param("*, gzip;q=0", False, id="named-zero-beats-wildcard"),
        pytest.param("gzip;q=0, *", False, id="named-zero-beats-wildcard-after"),
        pytest.param("*;q=0, gzip", True, id="named-beats-wildcard-zero"),
    ],
)
def test_accepts_gzip(accept_encoding, expected):
    assert accepts_gzip(accept_encoding) is expected
