from __future__ import annotations

import pytest
from packaging.tags import Tag
from packaging.version import Version

from envelope.errors import InvalidDistribution, InvalidInput
from envelope.models import File, Project, Release
from envelope.names import (
    MAX_FILENAME_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PYTHON_TAGS_LENGTH,
    MAX_VERSION_LENGTH,
    canonical_version,
    check_field_lengths,
    check_publishable,
    filename_key,
    normalize,
    parse_filename,
    parse_project_restriction,
    validate_org_name,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("requests", "requests"),
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("Foo_Bar", "foo-bar"),
        ("foo__-.bar", "foo-bar"),
        ("A", "a"),
        ("a1", "a1"),
        ("1a", "1a"),
    ],
)
def test_normalize_valid(name, expected):
    assert normalize(name) == expected


@pytest.mark.parametrize(
    "name",
    ["", "-foo", "foo-", ".foo", "foo_", "foo bar", "foo/bar", "föö", "foo!", "foo\n"],
)
def test_normalize_invalid(name):
    with pytest.raises(InvalidInput, match="Invalid project name"):
        normalize(name)


def test_normalize_refuses_names_longer_than_a_project_name_can_be():
    assert normalize("a" * MAX_NAME_LENGTH) == "a" * MAX_NAME_LENGTH
    with pytest.raises(InvalidInput, match=f"Project name is longer than {MAX_NAME_LENGTH} characters"):
        normalize("a" * (MAX_NAME_LENGTH + 1))


# --------------------------------------------------------------------------- filenames


@pytest.mark.parametrize(
    ("filename", "name", "version", "tags"),
    [
        ("demo-1.0-py3-none-any.whl", "demo", "1.0", {"py3-none-any"}),
        ("Demo_Pkg-2.0.1-py3-none-any.whl", "demo-pkg", "2.0.1", {"py3-none-any"}),
        ("demo-1.0-py2.py3-none-any.whl", "demo", "1.0", {"py2-none-any", "py3-none-any"}),
        (
            "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "demo",
            "1.0",
            {"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"},
        ),
        ("demo-1.0-1-py3-none-any.whl", "demo", "1.0", {"py3-none-any"}),  # build tag
        ("demo-1.0-2abc-py3-none-any.whl", "demo", "1.0", {"py3-none-any"}),
        ("demo-1.0rc1-py3-none-any.whl", "demo", "1.0rc1", {"py3-none-any"}),
        ("demo-1.0+local-py3-none-any.whl", "demo", "1.0+local", {"py3-none-any"}),
    ],
)
def test_parse_wheel_filename(filename, name, version, tags):
    parsed = parse_filename(filename)
    assert parsed.filename == filename
    assert parsed.name == name
    assert parsed.version == Version(version)
    assert parsed.packagetype == "bdist_wheel"
    assert {str(tag) for tag in parsed.tags} == tags


@pytest.mark.parametrize(
    ("filename", "name", "version"),
    [
        ("demo-1.0.tar.gz", "demo", "1.0"),
        ("demo-1.0.zip", "demo", "1.0"),
        ("Demo_Pkg-2.0.post1.tar.gz", "demo-pkg", "2.0.post1"),
        ("demo-1!2.0.tar.gz", "demo", "1!2.0"),
    ],
)
def test_parse_sdist_filename(filename, name, version):
    parsed = parse_filename(filename)
    assert (parsed.name, parsed.version, parsed.packagetype, parsed.tags) == (
        name,
        Version(version),
        "sdist",
        frozenset(),
    )


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("demo-1.0.exe", "Unsupported file type"),
        ("demo-1.0.tar.bz2", "Unsupported file type"),
        ("demo-1.0.egg", "Unsupported file type"),
        ("demo-1.0.tar", "Unsupported file type"),
        ("dir/demo-1.0.tar.gz", "Invalid distribution filename"),
        ("../demo-1.0.tar.gz", "Invalid distribution filename"),
        ("dir\\demo-1.0.tar.gz", "Invalid distribution filename"),
        (".demo-1.0.tar.gz", "Invalid distribution filename"),
        ("demo-1.0.tar.gz\x00.whl", "Invalid distribution filename"),
        ("demo-1.0\x00-py3-none-any.whl", "Invalid distribution filename"),
        ("demo-" + "1" * 250 + ".tar.gz", f"longer than {MAX_FILENAME_LENGTH} bytes"),
        ("demo-notaversion.tar.gz", "invalid version"),
        ("demo.tar.gz", "Invalid distribution filename"),
        ("demo-1.0-x.whl", "Invalid distribution filename"),
        ("demo-1.0-py3-none.whl", "Invalid distribution filename"),
        ("demo-notaversion-py3-none-any.whl", "Invalid distribution filename"),
        ("demo-1.0-abc-py3-none-any.whl", "Invalid build number"),
        ("de mo-1.0-py3-none-any.whl", "Invalid distribution filename"),
    ],
)
def test_parse_filename_refuses(filename, message):
    with pytest.raises(InvalidDistribution, match=message):
        parse_filename(filename)


def test_parse_filename_length_is_counted_in_bytes_not_characters():
    # 120 two-byte characters: 240 characters would pass a character count.
    filename = "demo-1.0+" + "é" * 120 + ".tar.gz"
    assert len(filename) < MAX_FILENAME_LENGTH < len(filename.encode())
    with pytest.raises(InvalidDistribution, match="longer than 255 bytes"):
        parse_filename(filename)


def test_parse_filename_accepts_exactly_the_limit():
    filename = "demo-1.0+" + "a" * (MAX_FILENAME_LENGTH - len("demo-1.0+.tar.gz")) + ".tar.gz"
    assert len(filename.encode()) == MAX_FILENAME_LENGTH
    assert parse_filename(filename).name == "demo"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("demo-1.0-py3-none-any.whl", "py3"),
        ("demo-1.0-py2.py3-none-any.whl", "py2.py3"),
        ("demo-1.0-cp312.cp311-abi3-manylinux_2_17_x86_64.whl", "cp311.cp312"),
        ("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp311"),
        ("demo-1.0.tar.gz", "source"),
        ("demo-1.0.zip", "source"),
    ],
)
def test_python_version(filename, expected):
    assert parse_filename(filename).python_version == expected


def test_parsed_tags_are_packaging_tags():
    parsed = parse_filename("demo-1.0-py3-none-any.whl")
    assert parsed.tags == frozenset({Tag("py3", "none", "any")})


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1.0", "1.0.0"),
        ("1", "1.0.0.0"),
        ("1.0", "v1.0"),
        ("1.0rc1", "1.0.0-rc.1"),
        ("1.0.post1", "1.0.0-1"),
        (Version("2.0"), "2"),
    ],
)
def test_canonical_version_same_release(left, right):
    assert canonical_version(left) == canonical_version(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [("1.0", "1.0.1"), ("1.0", "1.0rc1"), ("1.0", "1.0.post1"), ("1.0", "1.0.dev0"), ("1.0", "1!1.0")],
)
def test_canonical_version_different_release(left, right):
    assert canonical_version(left) != canonical_version(right)


# --------------------------------------------------------------------------- restrictions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("billing", ("billing", "")),
        ("Billing_Core", ("billing-core", "")),
        ("billing>=1,<2", ("billing", "<2,>=1")),
        ("billing >= 1 , < 2", ("billing", "<2,>=1")),
        ("billing<2,>=1", ("billing", "<2,>=1")),
        ("billing==1.*", ("billing", "==1.*")),
        ("billing~=1.4", ("billing", "~=1.4")),
        ("billing (>=1)", ("billing", ">=1")),
        ("  billing  ", ("billing", "")),
    ],
)
def test_parse_project_restriction(text, expected):
    assert parse_project_restriction(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("billing[extra]", "extras, URLs and markers are not allowed"),
        ("billing @ https://example.com/billing.whl", "extras, URLs and markers are not allowed"),
        ('billing; python_version < "3.12"', "extras, URLs and markers are not allowed"),
        ("billing>=1; os_name == 'nt'", "extras, URLs and markers are not allowed"),
        ("", "expected NAME or NAME followed by a version specifier"),
        ("bill ing", "expected NAME"),
        ("-billing", "expected NAME"),
        ("billing>>1", "expected NAME"),
        ("billing>=one", "expected NAME"),
        ("billing,", "expected NAME"),
    ],
)
def test_parse_project_restriction_refuses(text, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_project_restriction(text)
    assert repr(text) in str(caught.value)


# --------------------------------------------------------------------------- organizations


@pytest.mark.parametrize("name", ["acme", "a", "7", "acme-corp", "a-b-c", "team42", "a" * 64, "a--b"])
def test_validate_org_name_accepts(name):
    assert validate_org_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["login", "logout", "static", "api", "hooks", "healthz", "simple", "files", "admin", "tokens"],
)
def test_validate_org_name_refuses_reserved(name):
    with pytest.raises(InvalidInput, match="is reserved"):
        validate_org_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Acme",
        "ACME",
        "a" * 65,
        "-acme",
        "acme-",
        "-",
        "acme_corp",
        "acme.corp",
        "acme corp",
        "acme/x",
        "äcme",
        "robots.txt",
    ],
)
def test_validate_org_name_refuses_malformed(name):
    with pytest.raises(InvalidInput, match="Invalid organization name"):
        validate_org_name(name)


@pytest.mark.parametrize("name", ["acme\n", "login\n"])
def test_validate_org_name_refuses_trailing_newline(name):
    with pytest.raises(InvalidInput):
        validate_org_name(name)


# --------------------------------------------------------------------------- field lengths


def _tags(count: int) -> str:
    """`count` interpreter tags of 5 characters: cp300.cp301…-none-any."""
    return ".".join(f"cp{300 + i}" for i in range(count)) + "-none-any"


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("a" * 201 + "-1.0.tar.gz", "Project name is longer than 200 characters"),
        ("demo-1.0+" + "a" * 97 + ".tar.gz", "Version is longer than 100 characters"),
        ("demo-1.0+" + "a" * 146 + "-py3-none-any.whl", "Version is longer than 100 characters"),
        (f"demo-1.0-{_tags(17)}.whl", "Python tag is longer than 100 characters"),
    ],
)
def test_check_field_lengths_refuses_what_the_index_cannot_store(filename, message):
    parsed = parse_filename(filename)  # a well-formed filename…
    with pytest.raises(InvalidDistribution, match=message):
        check_field_lengths(parsed)  # …with a field longer than its column


@pytest.mark.parametrize(
    "filename",
    [
        "a" * 200 + "-1.0.tar.gz",
        "demo-1.0+" + "a" * 96 + ".tar.gz",
        f"demo-1.0-{_tags(16)}.whl",  # 16 * 5 + 15 = 95 characters
    ],
)
def test_check_field_lengths_accepts_the_limits(filename):
    check_field_lengths(parse_filename(filename))


def test_length_limits_are_the_column_sizes():
    assert Project.name.type.length == Project.normalized_name.type.length == MAX_NAME_LENGTH
    assert Release.version.type.length == Release.canonical_version.type.length == MAX_VERSION_LENGTH
    assert File.python_version.type.length == MAX_PYTHON_TAGS_LENGTH


# --------------------------------------------------------------------------- filename keys


def key(filename: str) -> str:
    return filename_key(parse_filename(filename))


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        (["billing-1.0-py3-none-any.whl", "Billing-1.0.0-py3-none-any.whl", "BILLING-1-py3-none-ANY.whl"],
         "billing-1-py3-none-any.whl"),
        (["billing-1.9.post1-py3-none-any.whl", "billing-1.9.0.post1-py3-none-any.whl", "billing-1.9.0-1-py3-none-any.whl"],
         None),  # the last is version 1.9.0 with build tag 1: another file, checked below
        (["demo_pkg-2.0rc1-py2.py3-none-any.whl", "Demo.Pkg-2.0.0c1-py3.py2-none-any.whl"],
         "demo-pkg-2rc1-py2.py3-none-any.whl"),
        (["demo-1.0-01-py3-none-any.whl", "demo-1.0.0-1-py3-none-any.whl"], "demo-1-1-py3-none-any.whl"),
        (["demo-1.0.tar.gz", "Demo-1.0.0.tar.gz", "demo-1.0.zip"], "demo-1.sdist"),
    ],
)
def test_filename_key_is_one_for_every_spelling_of_a_file(spellings, expected):
    if expected is None:
        assert key(spellings[0]) == key(spellings[1]) != key(spellings[2])
    else:
        assert {key(spelling) for spelling in spellings} == {expected}


@pytest.mark.parametrize(
    "other",
    [
        "demo-1.0-py2.py3-none-any.whl",  # other tags
        "demo-1.0-1-py3-none-any.whl",  # a build tag
        "demo-1.0.1-py3-none-any.whl",  # another version
        "demo-1.0.tar.gz",  # an sdist
    ],
)
def test_filename_key_tells_other_files_apart(other):
    assert key("demo-1.0-py3-none-any.whl") != key(other)


def test_check_publishable_accepts_ordinary_filenames():
    for filename in ("demo-1.0-py3-none-any.whl", "demo-1!2.0.post1.dev3-2_x-cp312-abi3-macosx_11_0_arm64.whl",
                     "demo-1.0.tar.gz"):
        check_publishable(parse_filename(filename))


@pytest.mark.parametrize("filename", ["demo-1.0+local-py3-none-any.whl", "demo-1.0+ubuntu.1.tar.gz"])
def test_check_publishable_refuses_local_versions(filename):
    with pytest.raises(InvalidDistribution, match="Can't use PEP 440 local versions"):
        check_publishable(parse_filename(filename))


@pytest.mark.parametrize("filename", ["../../x-1.0-py3-none-any.whl", "/abs/x-1.0-py3-none-any.whl",
                                      "dir\\x-1.0-py3-none-any.whl", "a/b-1.0.tar.gz"])
def test_a_filename_with_a_path_is_refused_not_trimmed(filename):
    with pytest.raises(InvalidDistribution, match="has a path in it"):
        parse_filename(filename)
