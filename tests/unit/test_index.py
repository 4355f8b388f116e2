from __future__ import annotations

import copy
import hashlib
import re
from html.parser import HTMLParser

import pytest
from packaging.specifiers import SpecifierSet

from envelope.index import pages as index
from envelope.orgs.capabilities import Capability
from envelope.orgs.identity import Caller, Restriction
from envelope.errors import InvalidInput, NotFound
from envelope.models import Project
from envelope.orgs.membership import operator_access
from envelope.packaging.releases import change_yank
from tests.unit.archives import core_metadata, sdist_tar_gz, wheel_bytes, wheel_filename

SHA = "a" * 64
META_SHA = "b" * 64


class Anchors(HTMLParser):
    """Every <a> of a page as (attributes, text), with entities decoded."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.meta: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open = dict(attrs)
            self.anchors.append((self._open, ""))
        elif tag == "meta":
            self.meta.append(dict(attrs))

    def handle_data(self, data):
        if self._open is not None:
            attrs, text = self.anchors[-1]
            self.anchors[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None


def entry(filename: str = "demo-1.0-py3-none-any.whl", **overrides) -> dict:
    """A file entry shaped like index._file_entry's."""
    data = {
        "filename": filename,
        "url": f"../../files/{SHA}/{filename}",
        "hashes": {"sha256": SHA, "blake2b_256": "c" * 64},
        "requires-python": None,
        "core-metadata": {"sha256": META_SHA},
        "yanked": False,
        "size": 1234,
        "upload-time": "2024-01-02T03:04:05.000006Z",
    }
    data.update(overrides)
    return data


def detail(*files: dict, name: str = "demo") -> dict:
    return {"meta": {"api-version": index.API_VERSION, "_last-serial": 3}, "name": name, "versions": ["1.0"], "files": list(files)}


def listing(*names: tuple[str, str]) -> dict:
    return {
        "meta": {"api-version": index.API_VERSION, "_last-serial": 9},
        "projects": [{"name": name, "_normalized": normalized} for name, normalized in names],
    }


def only_anchor(page: str) -> tuple[dict, str]:
    (anchor,) = Anchors(page).anchors
    return anchor


# --------------------------------------------------------------------------- HTML rendering


def test_detail_link_carries_the_sha256_fragment():
    attrs, text = only_anchor(index.render_detail_html(detail(entry())))
    assert attrs["href"] == f"../../files/{SHA}/demo-1.0-py3-none-any.whl#sha256={SHA}"
    assert text == "demo-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    ("requires_python", "raw", "absent"),
    [
        (">=3.8", 'data-requires-python="&gt;=3.8"', False),
        ("<4,>=3.8", 'data-requires-python="&lt;4,&gt;=3.8"', False),
        ('>=3.8"onload="x', 'data-requires-python="&gt;=3.8&quot;onload=&quot;x"', False),
        (None, "data-requires-python", True),
        ("", "data-requires-python", True),
    ],
)
def test_detail_requires_python_is_escaped(requires_python, raw, absent):
    page = index.render_detail_html(detail(entry(**{"requires-python": requires_python})))
    attrs, _ = only_anchor(page)
    if absent:
        assert raw not in page
        assert "data-requires-python" not in attrs
    else:
        assert raw in page
        assert attrs["data-requires-python"] == requires_python
        assert "onload" not in attrs


@pytest.mark.parametrize(
    ("yanked", "expected"),
    [
        (False, None),
        (True, ""),
        ("broken build", "broken build"),
        ('use 1.1 & "not" <this>', 'use 1.1 & "not" <this>'),
    ],
)
def test_detail_yanked(yanked, expected):
    page = index.render_detail_html(detail(entry(yanked=yanked)))
    attrs, _ = only_anchor(page)
    if expected is None:
        assert "data-yanked" not in page
    else:
        assert attrs["data-yanked"] == expected
    assert "<this>" not in page


def test_detail_yanked_reason_is_escaped_in_the_markup():
    page = index.render_detail_html(detail(entry(yanked='a "quoted" <b>reason</b> & more')))
    assert 'data-yanked="a &quot;quoted&quot; &lt;b&gt;reason&lt;/b&gt; &amp; more"' in page


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"sha256": META_SHA}, f"sha256={META_SHA}"), (False, None)],
)
def test_detail_core_metadata_only_when_present(metadata, expected):
    page = index.render_detail_html(detail(entry(**{"core-metadata": metadata})))
    attrs, _ = only_anchor(page)
    assert attrs.get("data-core-metadata") == expected
    assert attrs.get("data-dist-info-metadata") == expected


def test_detail_escapes_filenames_urls_and_the_title():
    hostile = "<script>alert(1)</script>&.whl"
    page = index.render_detail_html(detail(entry(hostile, url="../x?a=1&b=<2>"), name="<b>demo</b>"))
    assert "<script>" not in page and "<b>demo</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;.whl" in page
    assert "<title>Links for &lt;b&gt;demo&lt;/b&gt;</title>" in page
    attrs, text = only_anchor(page)
    assert text == hostile
    assert attrs["href"] == f"../x?a=1&b=<2>#sha256={SHA}"


def test_detail_lists_files_in_the_order_given():
    files = [entry(f"demo-{v}-py3-none-any.whl") for v in ("1.0", "1.2", "1.10")]
    texts = [text for _, text in Anchors(index.render_detail_html(detail(*files))).anchors]
    assert texts == [f["filename"] for f in files]


def test_detail_of_a_project_without_visible_files():
    page = index.render_detail_html(detail())
    assert Anchors(page).anchors == []
    assert "<h1>Links for demo</h1>" in page


@pytest.mark.parametrize("render", [index.render_detail_html, index.render_list_html])
def test_pages_carry_the_repository_version_meta_tag(render):
    page = render(detail(entry()) if render is index.render_detail_html else listing(("Demo", "demo")))
    assert f'<meta name="pypi:repository-version" content="{index.API_VERSION}">' in page
    assert {"name": "pypi:repository-version", "content": index.API_VERSION} in Anchors(page).meta
    assert page.startswith("<!DOCTYPE html>")


def test_list_links_to_normalized_names_and_shows_display_names():
    anchors = Anchors(index.render_list_html(listing(("Demo_Pkg", "demo-pkg"), ("zope.interface", "zope-interface")))).anchors
    assert anchors == [({"href": "demo-pkg/"}, "Demo_Pkg"), ({"href": "zope-interface/"}, "zope.interface")]


def test_list_escapes_names():
    page = index.render_list_html(listing(('<img src=x onerror="y">', 'a"b')))
    assert "<img" not in page
    assert 'href="a%22b/"' in page  # percent-encoded as a path segment, which also keeps it in the attribute
    assert Anchors(page).anchors == [({"href": "a%22b/"}, '<img src=x onerror="y">')]


# --------------------------------------------------------------------------- JSON view


def test_json_view_drops_private_project_keys():
    data = listing(("Demo_Pkg", "demo-pkg"))
    original = copy.deepcopy(data)
    assert index.json_view(data) == {
        "meta": {"api-version": index.API_VERSION, "_last-serial": 9},
        "projects": [{"name": "Demo_Pkg"}],
    }
    assert data == original  # the rendering does not mutate the shared dict


def test_json_view_of_a_detail_page_is_the_dict_itself():
    data = detail(entry(yanked="broken"))
    assert index.json_view(data) == data


# --------------------------------------------------------------------------- with a database


def restricted(organization_id: int, **specifiers: str) -> Caller:
    return Caller(
        organization_id=organization_id,
        label="token 'restricted' (#9)",
        capabilities=frozenset({Capability.READ_INDEX}),
        restrictions=tuple(Restriction(name, SpecifierSet(spec)) for name, spec in specifiers.items()),
    )


def publish_versions(publish, name: str, versions: list[str]) -> None:
    for version in versions:
        publish(wheel_filename(name, version), wheel_bytes(name, version))


def detail_of(database, organization, principal, name: str) -> dict:
    with database.read() as session:
        project = index.visible_project(session, organization, principal, name)
        return index.project_detail(session, project, principal)


def test_versions_sort_by_version_not_string(database, organization, operator, publish):
    publish_versions(publish, "demo", ["1.9", "1.10", "1.2", "1.10rc1", "0.9", "1.9.post1"])
    data = detail_of(database, organization, operator, "demo")
    expected = ["0.9", "1.2", "1.9", "1.9.post1", "1.10rc1", "1.10"]
    assert data["versions"] == expected
    assert [f["filename"] for f in data["files"]] == [wheel_filename("demo", v) for v in expected]


def test_files_of_one_version_sort_by_filename(database, organization, operator, publish):
    publish("demo-1.0.tar.gz", sdist_tar_gz("demo", "1.0"))
    publish(wheel_filename("demo", "1.0"), wheel_bytes("demo", "1.0"))
    data = detail_of(database, organization, operator, "demo")
    assert [f["filename"] for f in data["files"]] == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]
    assert data["versions"] == ["1.0"]


def test_restricted_principal_sees_only_matching_files(database, organization, publish):
    publish_versions(publish, "billing", ["0.9", "1.0", "1.5", "1.5rc1", "2.0", "2.0rc1"])
    who = restricted(organization.id, billing=">=1,<2")
    data = detail_of(database, organization, who, "billing")
    assert data["versions"] == ["1.0", "1.5rc1", "1.5"]
    assert [f["filename"] for f in data["files"]] == [wheel_filename("billing", v) for v in ("1.0", "1.5rc1", "1.5")]


def test_file_entry_fields(database, organization, operator, publish):
    metadata = core_metadata("demo", "1.0", requires_python=">=3.8")
    data = wheel_bytes("demo", "1.0", metadata=metadata)
    sdist = sdist_tar_gz("demo", "1.0", metadata=metadata)
    publish(wheel_filename("demo", "1.0"), data)
    publish("demo-1.0.tar.gz", sdist)
    wheel_entry, sdist_entry = detail_of(database, organization, operator, "demo")["files"]
    sha = hashlib.sha256(data).hexdigest()
    assert wheel_entry["url"] == f"../../files/{sha}/demo-1.0-py3-none-any.whl"
    assert wheel_entry["hashes"] == {"sha256": sha, "blake2b_256": hashlib.blake2b(data, digest_size=32).hexdigest()}
    assert wheel_entry["size"] == len(data)
    assert wheel_entry["requires-python"] == ">=3.8"
    assert wheel_entry["yanked"] is False
    assert wheel_entry["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
    # PEP 714: JSON carries only "core-metadata"; pip 22.3-23.1 crash on the old key's dict.
    assert "dist-info-metadata" not in wheel_entry and "dist-info-metadata" not in sdist_entry
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", wheel_entry["upload-time"])
    # PEP 658 metadata is offered for wheels only.
    assert sdist_entry["core-metadata"] is False
    assert sdist_entry["size"] == len(sdist)


def test_detail_meta_and_name(database, organization, operator, publish):
    publish(wheel_filename("Demo_Pkg", "1.0"), wheel_bytes("Demo_Pkg", "1.0"))
    data = detail_of(database, organization, operator, "demo-pkg")
    assert data["name"] == "demo-pkg"
    assert data["meta"]["api-version"] == index.API_VERSION
    assert data["meta"]["_last-serial"] >= 1
    assert data["project-status"] == {"status": "active"}
    assert "tracks" not in data["meta"] and "alternate-locations" not in data  # private: tracks nothing


# --------------------------------------------------------------------------- PEP 708 and 792 serialisation


def metas(page: str) -> list[tuple[str | None, str | None]]:
    return [(m.get("name"), m.get("content")) for m in Anchors(page).meta]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"status": "active"}, [("pypi:project-status", "active")]),
        ({"status": "archived", "reason": 'moved to "ledger" <soon>'},
         [("pypi:project-status", "archived"), ("pypi:project-status-reason", 'moved to "ledger" <soon>')]),
        ({"status": "quarantined"}, [("pypi:project-status", "quarantined")]),
        (None, []),  # an upstream page that said nothing of its status
    ],
)
def test_project_status_is_a_json_key_and_html_meta(status, expected):
    data = detail(entry())
    if status is not None:
        data["project-status"] = status
    page = index.render_detail_html(data)
    assert metas(page)[1:] == expected
    assert '<meta name="pypi:project-status-reason" content="moved to &quot;ledger&quot; &lt;soon&gt;">' in page \
        or not (status or {}).get("reason")


def test_tracks_and_alternate_locations_are_one_meta_element_per_url():
    data = detail(entry())
    data["meta"]["tracks"] = ["https://pypi.org/simple/demo/", "https://mirror.example/simple/demo/"]
    data["alternate-locations"] = ["https://other.example/simple/demo/"]
    assert metas(index.render_detail_html(data))[1:] == [
        ("pypi:tracks", "https://pypi.org/simple/demo/"),
        ("pypi:tracks", "https://mirror.example/simple/demo/"),
        ("pypi:alternate-locations", "https://other.example/simple/demo/"),
    ]
    assert index.json_view(data)["meta"]["tracks"][0] == "https://pypi.org/simple/demo/"


def test_status_entry_leaves_out_a_missing_reason():
    assert index.status_entry("deprecated", None) == {"status": "deprecated"}
    assert index.status_entry("deprecated", "") == {"status": "deprecated"}
    assert index.status_entry("archived", "done") == {"status": "archived", "reason": "done"}


@pytest.mark.parametrize(
    ("tracks", "kept"),
    [
        (["https://pypi.org/simple/demo-pkg/"], ["https://pypi.org/simple/demo-pkg/"]),
        (["https://pypi.org/simple/Demo_Pkg/"], ["https://pypi.org/simple/Demo_Pkg/"]),  # same name, normalized
        (["https://pypi.org/simple/other/"], []),  # PEP 708: the exact same name
        (["https://pypi.org/simple/"], []),  # a repository's root, not the project
        (["javascript:alert(1)//demo-pkg/", "ftp://x/demo-pkg/", "/simple/demo-pkg/"], []),
        (["https://user:pw@host/simple/demo-pkg/"], []),  # never serve credentials on
        (["https://a/demo-pkg/"] * 3, ["https://a/demo-pkg/"]),
        ([f"https://m{i}.example/demo-pkg/" for i in range(30)], [f"https://m{i}.example/demo-pkg/" for i in range(20)]),
        (["https://a/" + "x" * 600 + "/demo-pkg/"], []),
    ],
)
def test_upstream_tracks_are_kept_only_when_they_name_this_project(tracks, kept):
    from pypi_simple import ProjectPage

    from envelope.upstream.contents import project_meta

    page = ProjectPage(project="demo-pkg", packages=[], repository_version="1.2", last_serial=None,
                       tracks=tracks, alternate_locations=tracks)
    meta = project_meta(page, "demo-pkg")
    assert meta.get("tracks", []) == kept and meta.get("alternate-locations", []) == kept
    assert "status" not in meta


def test_upstream_status_is_carried_when_it_is_a_pep_792_marker():
    from pypi_simple import ProjectPage

    from envelope.upstream.contents import project_meta

    def meta(status, reason=None):
        page = ProjectPage(project="demo", packages=[], repository_version="1.4", last_serial=None)
        page.status, page.status_reason = status, reason
        return project_meta(page, "demo")

    assert meta("archived", " old ") == {"status": "archived", "status_reason": "old"}
    assert meta("quarantined") == {"status": "quarantined"}
    assert meta("haunted") == {} and meta(None) == {}


def test_yank_shows_in_detail_and_html(database, organization, operator, publish):
    publish_versions(publish, "demo", ["1.0", "1.1"])
    with database.write() as session:
        change_yank(session, operator_access(organization, "tests"), "demo", "1.0", yanked=True, reason="broken <build>")
    data = detail_of(database, organization, operator, "demo")
    assert [f["yanked"] for f in data["files"]] == ["broken <build>", False]
    attrs = [a for a, _ in Anchors(index.render_detail_html(data)).anchors]
    assert attrs[0]["data-yanked"] == "broken <build>"
    assert "data-yanked" not in attrs[1]


def _by_serial(session, organization, principal, name):
    """visible_project_serial, the index's lean lookup, answering with the row."""
    project_id, serial = index.visible_project_serial(session.connection(), organization.id, principal, name)
    project = session.get(Project, project_id)
    assert serial == project.serial
    return project


LOOKUPS = pytest.mark.parametrize("lookup", [index.visible_project, _by_serial], ids=["orm", "serial"])


@LOOKUPS
@pytest.mark.parametrize("spelling", ["demo-pkg", "Demo_Pkg", "DEMO.PKG", "demo__pkg"])
def test_visible_project_accepts_any_spelling(database, organization, operator, publish, spelling, lookup):
    publish(wheel_filename("demo-pkg", "1.0"), wheel_bytes("demo-pkg", "1.0"))
    with database.read() as session:
        project = lookup(session, organization, operator, spelling)
        assert (project.name, project.normalized_name) == ("demo-pkg", "demo-pkg")


@LOOKUPS
def test_visible_project_hidden_and_missing_look_the_same(database, organization, publish, lookup):
    publish_versions(publish, "secret", ["1.0"])
    publish_versions(publish, "billing", ["1.0"])
    who = restricted(organization.id, billing="")
    outcomes = []
    for name in ("secret", "missing"):
        with database.read() as session, pytest.raises(NotFound) as caught:
            lookup(session, organization, who, name)
        outcomes.append((type(caught.value), str(caught.value), caught.value.status))
    assert outcomes[0] == outcomes[1] == (NotFound, "Not Found", 404)
    with database.read() as session:
        assert lookup(session, organization, who, "billing").normalized_name == "billing"


@LOOKUPS
def test_visible_project_with_an_invalid_name(database, organization, operator, lookup):
    with database.read() as session, pytest.raises(InvalidInput):
        lookup(session, organization, operator, "not a name")


def test_project_list_filters_and_sorts(database, organization, operator, publish):
    for name in ("Zeta", "alpha_one", "Billing"):
        publish_versions(publish, name, ["1.0"])
    with database.read() as session:
        everything = index.project_list(session, organization, operator)
        some = index.project_list(session, organization, restricted(organization.id, billing=">=5", zeta=""))
    assert [p["_normalized"] for p in everything["projects"]] == ["alpha-one", "billing", "zeta"]
    assert [p["name"] for p in everything["projects"]] == ["alpha_one", "Billing", "Zeta"]
    # A project is listed when the principal may read it, whatever its versions.
    assert index.json_view(some)["projects"] == [{"name": "Billing"}, {"name": "Zeta"}]
    assert everything["meta"]["api-version"] == index.API_VERSION


# --------------------------------------------------------------------------- URL path segments


@pytest.mark.parametrize(
    ("filename", "encoded"),
    [
        ("demo-1.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl"),  # what the index serves today: unchanged
        ("demo-1.0.tar.gz", "demo-1.0.tar.gz"),
        ("demo-1!2.0-py3-none-any.whl", "demo-1%212.0-py3-none-any.whl"),  # an epoch: legal, and encoded
        ("a-1.0-py3-none-any#x.whl", "a-1.0-py3-none-any%23x.whl"),
        ("a-1.0-py3-none-any?x=1.whl", "a-1.0-py3-none-any%3Fx%3D1.whl"),
        ('a-1.0-py3-none-a"b;c.whl', "a-1.0-py3-none-a%22b%3Bc.whl"),
        ("a-1.0-py3-none-%2e%2e.whl", "a-1.0-py3-none-%252e%252e.whl"),
        ("../../x/y.whl", "..%2F..%2Fx%2Fy.whl"),
    ],
)
def test_file_urls_percent_encode_each_path_segment(filename, encoded):
    assert index.files_url(SHA, filename) == f"../../files/{SHA}/{encoded}"
    page = index.render_detail_html(detail(entry(filename, url=index.files_url(SHA, filename))))
    attrs, text = only_anchor(page)
    path, fragment = attrs["href"].split("#")  # the only '#' is the hash fragment
    assert path == f"../../files/{SHA}/{encoded}" and fragment == f"sha256={SHA}"
    assert "?" not in path and "/" not in path.removeprefix(f"../../files/{SHA}/")
    assert text == filename


def test_upstream_file_urls_are_encoded_too():
    """Filenames from an upstream index are not ours to trust: they are encoded like our own."""
    from envelope.upstream import pages as upstream

    hostile = {"filename": "a-1.0-py3-none-any#x?y.whl", "sha256": SHA, "metadata_sha256": None,
               "requires_python": None, "yanked": False, "size": None, "upload_time": None}
    assert upstream._file_entry(hostile)["url"] == f"../../files/{SHA}/a-1.0-py3-none-any%23x%3Fy.whl"


def test_stored_file_urls_are_encoded_and_normal_ones_unchanged(database, organization, operator, publish):
    publish(wheel_filename("demo", "1.0"), wheel_bytes("demo", "1.0"))
    publish(wheel_filename("demo", "1!2.0"), wheel_bytes("demo", "1!2.0"))
    urls = {f["filename"]: f["url"] for f in detail_of(database, organization, operator, "demo")["files"]}
    sha = {name: url.split("/")[3] for name, url in urls.items()}
    assert urls == {
        "demo-1.0-py3-none-any.whl": f"../../files/{sha['demo-1.0-py3-none-any.whl']}/demo-1.0-py3-none-any.whl",
        "demo-1!2.0-py3-none-any.whl": f"../../files/{sha['demo-1!2.0-py3-none-any.whl']}/demo-1%212.0-py3-none-any.whl",
    }


def test_upload_time_is_the_first_publication_and_survives_the_same_bytes_again(
    database, organization, operator, publish
):
    """PEP 700: uv's --exclude-newer relies on upload-time saying when the file
    first appeared; publishing the same bytes again (a re-run twine, a re-polled
    GitHub release) must not move it."""
    first = publish(wheel_filename("demo", "1.0"), wheel_bytes("demo", "1.0"))
    assert first.created
    before = detail_of(database, organization, operator, "demo")["files"][0]["upload-time"]
    again = publish(wheel_filename("demo", "1.0"), wheel_bytes("demo", "1.0"))
    assert not again.created and again.file.id == first.file.id
    assert detail_of(database, organization, operator, "demo")["files"][0]["upload-time"] == before
    assert before == first.file.upload_time.strftime(index.UPLOAD_TIME_FORMAT)


def test_a_page_and_its_gzip_are_each_made_once_per_key():
    """The gzip encoding is cached beside the page: a burst of requests
    compresses once, and the bytes are the same whichever request made them."""
    import gzip

    from envelope.cache import MemoryCache

    cache, renders = MemoryCache(), []

    def render() -> bytes:
        renders.append(1)
        return b"<a>page</a>" * 100

    first = index.cached_body(cache, "k:1", render, compressed=True)
    assert gzip.decompress(first) == b"<a>page</a>" * 100 and len(first) < 100
    assert index.cached_body(cache, "k:1", render, compressed=True) is first
    assert index.cached_body(cache, "k:1", render, compressed=False) == b"<a>page</a>" * 100
    assert len(renders) == 1
    assert cache.get("k:1:gzip") is first
    # No timestamp in the stream: another process compressing the page gets the same bytes.
    assert index.cached_body(MemoryCache(), "k:1", render, compressed=True) == first
