"""The project page sidebar's reading of core metadata (the parts that need no database)."""
from __future__ import annotations

import pytest
from packaging.metadata import parse_email

from envelope.packaging import project_facts as facts


def raw(text: str):
    parsed, _ = parse_email("Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n" + text)
    return parsed


@pytest.mark.parametrize(("text", "expected"), [
    ("Home-page: https://a.example\n", [("Homepage", "https://a.example")]),
    ("Project-URL: Docs, https://docs.example\nProject-URL: Bad, javascript:alert(1)\n", [("Docs", "https://docs.example")]),
    ("Project-URL: Mail, mailto:x@example.com\nDownload-URL: http://dl.example/x\n", [("Download", "http://dl.example/x")]),
    ("Home-page: https://a.example\nProject-URL: Homepage, https://a.example\n", [("Homepage", "https://a.example")]),
    ("Home-page: UNKNOWN\n", []),
])
def test_links_are_http_only_and_unique(text, expected):
    assert [(link.label, link.url) for link in facts._links(raw(text))] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("License-Expression: MIT\nLicense: GPL\n", (None, "MIT")),
    ("License: BSD-3-Clause\n", (None, "BSD-3-Clause")),
    ("License: Copyright Acme\n        All rights reserved.\n", ("Copyright Acme\nAll rights reserved.", "Copyright Acme")),
    ("Classifier: License :: OSI Approved :: MIT License\n", (None, "MIT License")),
    ("", (None, None)),
])
def test_license_prefers_the_expression_and_folds_whole_texts(text, expected):
    assert facts._license(raw(text)) == expected


def test_people_from_names_and_addresses():
    people = facts._people(raw("Author: Ada\nAuthor-email: Ada <ada@example.com>, bob@example.com\n"
                               "Maintainer: Team\n"))
    assert [(p.name, p.email, p.role) for p in people] == [
        ("Ada", "ada@example.com", "Author"), ("Ada", "bob@example.com", "Author"), ("Team", None, "Maintainer"),
    ]


def test_classifiers_grouped_by_their_first_part():
    grouped = facts._classifiers(["Programming Language :: Python :: 3", "Typing :: Typed", "Framework :: Flask"])
    assert grouped == {"Programming Language": ["Python :: 3"], "Typing": ["Typed"], "Framework": ["Flask"]}


@pytest.mark.parametrize(("marker", "extra"), [
    ('extra == "cache"', "cache"), ("extra == 'cache'", "cache"),
    ('python_version < "3.11" and extra == "cache"', None), ('python_version < "3.11"', None), ("", None),
])
def test_only_a_bare_extra_marker_makes_an_optional_dependency(marker, extra):
    assert facts._extra_of(marker) == extra
