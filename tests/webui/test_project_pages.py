"""Project and release pages: yank, delete, README, wheel coverage, install snippets."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from envelope.errors import FileExists
from envelope.models import ReadmeStatus, Release
from envelope.packaging.readme import RENDER_LIMIT, render_stored
from tests.unit.test_readme import assert_inert
from tests.webui.conftest import SIMPLE_JSON, basic, snippet


def simple_files(world, project: str = "demo") -> dict[str, object]:
    """filename -> its 'yanked' value in the PEP 691 JSON pip reads."""
    secret = world.token(name="pip")
    response = world.app.test_client().get(
        f"/acme/simple/{project}/", headers={**basic(secret), "Accept": SIMPLE_JSON}
    )
    assert response.status_code == 200
    return {f["filename"]: f["yanked"] for f in response.get_json()["files"]}


def test_project_page_shows_release_files_and_history(world):
    world.wheel("demo", "1.0")
    world.wheel("demo", "2.0")
    page = world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True)
    assert "<h1>demo <span class=\"version\">2.0</span>" in page
    assert "demo-2.0-py3-none-any.whl" in page and "demo-1.0-py3-none-any.whl" not in page
    assert 'href="/acme/projects/demo/1.0/"' in page  # history
    assert "upload" in page  # source
    older = world.browser("rita").get("/acme/projects/demo/1.0/").get_data(as_text=True)
    assert "demo-1.0-py3-none-any.whl" in older and "This is not the latest version" in older


def test_non_normalized_project_name_redirects(world):
    world.wheel("Billing_Core", "1.0")
    response = world.browser("rita").get("/acme/projects/Billing_Core/1.0/")
    assert response.status_code == 301
    assert response.headers["Location"] == "/acme/projects/billing-core/1.0/"


def test_missing_project_and_release_are_404(world):
    world.wheel("demo", "1.0")
    reader = world.browser("rita")
    assert reader.get("/acme/projects/nope/").status_code == 404
    assert reader.get("/acme/projects/demo/9.9/").status_code == 404
    assert reader.get("/acme/projects/-bad-/").status_code == 404


def test_reader_sees_no_yank_or_delete_controls_and_is_refused(world):
    world.wheel("demo", "1.0")
    reader = world.browser("rita")
    page = reader.get("/acme/projects/demo/").get_data(as_text=True)
    assert "/yank" not in page and "/delete" not in page and "/manage" not in page
    assert reader.get("/acme/projects/demo/1.0/manage").status_code == 403
    yank = reader.post("/acme/projects/demo/1.0/yank", {"reason": "x"})
    assert yank.status_code == 403
    assert "Only owners and maintainers of acme can yank" in yank.get_data(as_text=True)
    assert reader.get("/acme/projects/demo/1.0/delete").status_code == 403
    assert reader.post("/acme/projects/demo/1.0/delete", {"confirm": "1.0"}).status_code == 403
    assert simple_files(world) == {"demo-1.0-py3-none-any.whl": False}


def test_maintainer_yanks_and_unyanks_and_pip_sees_it(world):
    world.wheel("demo", "1.0")
    world.wheel("demo", "1.0", "cp312-cp312-manylinux_2_17_x86_64")
    maintainer = world.browser("max")
    page = maintainer.get("/acme/projects/demo/").get_data(as_text=True)
    assert "Yank 1.0" not in page and 'href="/acme/projects/demo/1.0/manage"' in page  # management is apart
    manage = maintainer.get("/acme/projects/demo/1.0/manage").get_data(as_text=True)
    assert "Yank 1.0" in manage and "Delete 1.0" not in manage  # deleting is for owners
    response = maintainer.post("/acme/projects/demo/1.0/yank", {"reason": "broken build"})
    assert response.status_code == 302 and response.headers["Location"] == "/acme/projects/demo/1.0/manage"
    assert set(simple_files(world).values()) == {"broken build"}
    assert "yanked" in maintainer.get("/acme/projects/demo/1.0/").get_data(as_text=True)

    maintainer.post("/acme/projects/demo/1.0/unyank")
    assert set(simple_files(world).values()) == {False}

    # One file alone.
    maintainer.post("/acme/projects/demo/1.0/yank",
                    {"filename": "demo-1.0-py3-none-any.whl", "reason": ""})
    assert simple_files(world) == {"demo-1.0-py3-none-any.whl": True,
                                   "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl": False}


def test_delete_needs_an_owner_and_the_typed_version_and_burns_the_filename(world):
    world.wheel("demo", "1.0")
    world.wheel("demo", "2.0")
    assert world.browser("max").post("/acme/projects/demo/1.0/delete", {"confirm": "1.0"}).status_code == 403

    owner = world.browser("olivia")
    confirm_page = owner.get("/acme/projects/demo/1.0/delete").get_data(as_text=True)
    assert "Type the version <code>1.0</code> exactly to confirm" in confirm_page
    assert "demo-1.0-py3-none-any.whl" in confirm_page
    wrong = owner.post("/acme/projects/demo/1.0/delete", {"confirm": "2.0"})
    assert wrong.status_code == 400 and "type the version 1.0 exactly as shown" in wrong.get_data(as_text=True)
    # PEP 440 calls 1 and 1.0.0 equal; a deletion that burns filenames wants the text shown.
    for equivalent in ("1", "1.0.0", "v1.0", " 1.00 "):
        assert owner.post("/acme/projects/demo/1.0/delete", {"confirm": equivalent}).status_code == 400
    assert "demo-1.0-py3-none-any.whl" in simple_files(world)

    done = owner.post("/acme/projects/demo/1.0/delete", {"confirm": "1.0"})
    assert done.status_code == 302 and done.headers["Location"] == "/acme/projects/demo/"
    assert list(simple_files(world)) == ["demo-2.0-py3-none-any.whl"]
    assert owner.get("/acme/projects/demo/1.0/").status_code == 404
    with pytest.raises(FileExists):
        world.wheel("demo", "1.0")
    audit = owner.get("/acme/audit").get_data(as_text=True)
    assert "file.delete" in audit and "user olivia" in audit


def test_delete_one_file(world):
    world.wheel("demo", "1.0")
    world.wheel("demo", "1.0", "cp312-cp312-win_amd64")
    owner = world.browser("olivia")
    filename = "demo-1.0-cp312-cp312-win_amd64.whl"
    page = owner.get(f"/acme/projects/demo/1.0/delete?filename={filename}").get_data(as_text=True)
    assert filename in page and "demo-1.0-py3-none-any.whl" not in page
    assert f"Type the file name <code>{filename}</code> exactly to confirm" in page
    refused = owner.post("/acme/projects/demo/1.0/delete", {"confirm": "1.0", "filename": filename})
    assert refused.status_code == 400 and f"type the file name {filename} exactly" in refused.get_data(as_text=True)
    assert filename in simple_files(world)
    assert owner.post("/acme/projects/demo/1.0/delete", {"confirm": filename, "filename": filename}).status_code == 302
    assert list(simple_files(world)) == ["demo-1.0-py3-none-any.whl"]


def test_readme_is_rendered_and_sanitized_on_the_page(world):
    readme = (
        "# Demo\n\nSome **bold** text.\n\n<script>alert('x')</script>\n\n"
        '<iframe src="https://evil.example"></iframe>\n\n'
        "[click](javascript:alert(1))\n\n"
        '<img src="https://example.com/a.png" onerror="alert(1)">\n'
    )
    world.wheel("demo", "1.0", readme=readme, content_type="text/markdown")
    response = world.browser("rita").get("/acme/projects/demo/")
    page = response.get_data(as_text=True)
    readme_html = page[page.index('<div class="readme">'):page.index("Release history")]
    assert "<strong>bold</strong>" in readme_html
    assert "<script" not in readme_html and "<iframe" not in readme_html
    assert "javascript:" not in readme_html and "onerror" not in readme_html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_coverage_matrix_shows_the_missing_cp313_aarch64_wheel(world):
    for tags in ["cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
                 "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64",
                 "cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64",
                 "cp312-cp312-macosx_11_0_arm64", "cp313-cp313-win_amd64"]:
        world.wheel("native", "1.0", tags)
    page = world.browser("rita").get("/acme/projects/native/").get_data(as_text=True)
    assert '<td class="no" data-row="cp313" data-platform="manylinux-aarch64">no</td>' in page
    assert 'class="yes" data-row="cp312" data-platform="manylinux-aarch64"' in page
    assert 'class="yes" data-row="cp313" data-platform="manylinux-x86_64"' in page
    assert 'class="yes" data-row="cp313" data-platform="windows-AMD64"' in page


def test_install_snippets_use_the_public_index_url(world):
    world.wheel("demo", "1.0")
    page = world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True)
    authed = "https://__token__:$ENVELOPE_TOKEN@pkgs.example.com/acme/simple/"
    assert snippet(page, "pip-cli") == f'pip install --index-url "{authed}" demo\n'
    assert snippet(page, "pip-conf") == f"[global]\nindex-url = {authed}\n"
    assert snippet(page, "poetry").startswith("poetry source add --priority=primary acme https://pkgs.example.com/acme/simple/\n")
    assert 'url = "https://pkgs.example.com/acme/simple/"\ndefault = true\n' in snippet(page, "uv")
    assert 'UV_INDEX_ACME_PASSWORD="$ENVELOPE_TOKEN"' in snippet(page, "uv-env")
    assert "explicit = true" not in page and "--priority=explicit" not in page
    assert 'data-copy="snippet-pip-conf" hidden' in page  # shown by the script only


def test_install_section_warns_without_the_proxy_and_names_it_with(world):
    world.wheel("demo", "1.0")
    page = world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True)
    assert 'class="flash flash-warning" id="public-packages"' in page
    assert "Do not add PyPI as a second index" in page and "dependency confusion" in page
    assert 'href="/acme/proxy"' in page

    olivia = world.browser("olivia")
    assert olivia.post("/acme/proxy", {"enabled": "on", "upstream_url": ""}).status_code == 302
    page = world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True)
    assert "flash-warning" not in page and "Do not add PyPI" not in page
    assert "Public packages come through the same URL: acme&#39;s index proxies PyPI" in page


@pytest.mark.parametrize("name", ["-bad-", "not%20a%20name", "x" * 201])
def test_an_impossible_project_name_is_as_missing_as_any_other(world, name):
    secret = world.token(name="pip")
    client = world.app.test_client()
    impossible = client.get(f"/acme/simple/{name}/", headers=basic(secret))
    missing = client.get("/acme/simple/nosuchproject/", headers=basic(secret))
    assert impossible.status_code == missing.status_code == 404
    assert impossible.status == missing.status and impossible.get_data() == missing.get_data()


LARGE_RST = "Large\n=====\n\n**rendered by docutils**\n\n" + "Filler paragraph.\n\n" * 10_000  # ~190,000 characters


def readme_section(page: str) -> str:
    return page[page.index('id="description-title"'):page.index('id="files-title"')]


def test_page_shows_the_pending_note_then_the_stored_html_and_never_renders(world):
    file = world.wheel("demo", "1.0", readme=LARGE_RST, content_type="text/x-rst")
    reader = world.browser("rita")
    pending = readme_section(reader.get("/acme/projects/demo/").get_data(as_text=True))
    assert "The description is being rendered" in pending and "<strong>" not in pending

    # Stored HTML that the renderer would never produce: the page shows exactly it.
    with world.db.write() as session:
        session.execute(update(Release).where(Release.id == file.release_id).values(
            readme_status=ReadmeStatus.rendered, description_html="<p>stored marker</p>"))
    shown = readme_section(reader.get("/acme/projects/demo/1.0/").get_data(as_text=True))
    assert '<div class="readme"><p>stored marker</p></div>' in shown
    assert "rendered by docutils" not in shown and "being rendered" not in shown


def test_release_from_before_stored_readmes_shows_the_pending_note(world):
    file = world.wheel("demo", "1.0", readme="# Old\n\n**bold**", content_type="text/markdown")
    with world.db.write() as session:  # as migration 0007 leaves existing rows
        session.execute(update(Release).where(Release.id == file.release_id).values(
            readme_status=None, description_html=None))
    shown = readme_section(world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True))
    assert "The description is being rendered" in shown and "<strong>" not in shown


def test_readme_above_the_render_limit_is_plain_text_with_a_note(world):
    text = "Big\n===\n\n**not bold** <b>nor this</b>\n\n" + "x" * RENDER_LIMIT
    world.wheel("demo", "1.0", readme=text, content_type="text/x-rst")
    shown = readme_section(world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True))
    assert "too large to render" in shown
    assert "**not bold** &lt;b&gt;nor this&lt;/b&gt;" in shown and "<strong>" not in shown


@pytest.mark.parametrize("padding", ["", "\n\nFiller paragraph.\n" * 10_000], ids=["inline", "worker"])
@pytest.mark.parametrize(("readme", "content_type"), [
    ("# T\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2))\n\n<img src=x onerror=alert(3)>", "text/markdown"),
    ("# T\n\n<p onclick=alert(1)>p</p><iframe src=https://evil.example></iframe>", "text/markdown; variant=CommonMark"),
    ("T\n=\n\n`x <javascript:alert(1)>`_\n\n.. raw:: html\n\n   <script>alert(2)</script>\n", "text/x-rst"),
])
def test_stored_readme_on_the_page_is_inert(world, readme, content_type, padding):
    file = world.wheel("demo", "1.0", readme=readme + padding, content_type=content_type)
    if padding:
        assert render_stored(world.db, file.release_id) is ReadmeStatus.rendered
    shown = readme_section(world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True))
    assert '<div class="readme">' in shown
    assert_inert(shown)
